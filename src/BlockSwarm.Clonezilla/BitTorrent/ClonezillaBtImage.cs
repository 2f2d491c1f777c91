namespace BlockSwarm.Clonezilla.BitTorrent;

/// <summary>
/// A partition Clonezilla's BitTorrent mode would make a torrent of, and its image; or, with <see cref="Skipped"/>
/// saying why, one it makes none of.
/// </summary>
/// <param name="Partition">The device name as the <c>parts</c> file gives it (<c>sda1</c>, <c>cciss/c0d0p1</c>).</param>
/// <param name="Image">The partclone image; null when skipped.</param>
/// <param name="Skipped">Why no torrent is made of it, or null.</param>
public sealed record ClonezillaBtPartition(string Partition, ClonezillaPartitionImage? Image, string? Skipped)
{
    /// <summary>The torrent's name (ocs-btsrv's <c>-p "$(to_filename $ipt)"</c>): <c>/</c> becomes <c>-</c>.</summary>
    public string TorrentName => ClonezillaBtTorrents.TorrentName(Partition);

    /// <summary>What ocs-btsrv calls the .torrent in <c>btzone/IMAGE/</c>: <c>TorrentName.torrent</c>.</summary>
    public string TorrentFileName => TorrentName + ".torrent";
}

/// <summary>
/// The partitions of an image directory as <c>ocs-gen-bt-slices IMAGE [PART…]</c> goes through them
/// (<c>create_bittorrent_slices</c> and <c>create_bt_image_files_from_partclone_img</c> in ocs-functions): the ones
/// named, else the <c>parts</c> file's; each partition's partclone image found as restoredisk finds it. Works for
/// savedisk and saveparts images alike (a per-partition torrent needs no partition table).
/// </summary>
public static class ClonezillaBtImage
{
    /// <summary>
    /// Lists the partitions to make torrents of. Refuses (a <see cref="ClonezillaFormatException"/> naming the file) what
    /// Clonezilla refuses or what BlockSwarm cannot match: an encrypted image (ocs-gen-bt-slices stops on it), an LVM
    /// physical volume (Clonezilla seeds its logical volumes instead), images not in partclone's current naming. Skips,
    /// saying why, partitions Clonezilla's image route makes no usable torrent of: no image in the directory, or a
    /// <c>dd</c> image (ocs-gen-bt-slices runs <c>partclone.dd -d --btfiles -s -</c> without <c>-r</c> on it, which
    /// writes an empty torrent.info, so gen-torrent-from-ptcl has no file to put in a torrent).
    /// </summary>
    public static IReadOnlyList<ClonezillaBtPartition> List(string imageDirectory, IReadOnlyList<string>? partitions = null)
    {
        ArgumentNullException.ThrowIfNull(imageDirectory);
        if (!Directory.Exists(imageDirectory)) throw new ClonezillaFormatException($"{imageDirectory}: no such image directory");
        if (File.Exists(Path.Combine(imageDirectory, "ecryptfs.info")))
            throw new ClonezillaFormatException($"{imageDirectory}: an encrypted image (ecryptfs.info); Clonezilla's BitTorrent mode does not convert encrypted images either");
        var names = partitions is { Count: > 0 } ? partitions : ReadParts(imageDirectory);
        var pvs = PhysicalVolumes(imageDirectory);
        var result = new List<ClonezillaBtPartition>();
        foreach (var raw in names.Distinct(StringComparer.Ordinal))
        {
            var part = raw.StartsWith("/dev/", StringComparison.Ordinal) ? raw["/dev/".Length..] : raw;
            if (pvs.TryGetValue(part, out var vg))
                throw new ClonezillaFormatException(
                    $"{Path.Combine(imageDirectory, "lvm_vg_dev.list")}: {part} is a physical volume of LVM volume group {vg}; Clonezilla's BitTorrent mode seeds its logical volumes, which BlockSwarm does not yet");
            var image = PartitionImageFiles.Find(imageDirectory, part);
            if (image is null)
                result.Add(new ClonezillaBtPartition(part, null, "no partclone image of it in the directory"));
            else if (image.Kind == ClonezillaContentKind.Dd)
                result.Add(new ClonezillaBtPartition(part, null,
                    $"a dd image ({Path.GetFileName(image.Files[0])}): Clonezilla's image route makes no torrent of it (partclone.dd --btfiles without -r writes an empty torrent.info)"));
            else
                result.Add(new ClonezillaBtPartition(part, image, null));
        }
        return result;
    }

    private static List<string> ReadParts(string dir)
    {
        var file = Path.Combine(dir, "parts");
        if (!File.Exists(file))
            throw new ClonezillaFormatException($"{dir}: not a Clonezilla image directory (no 'parts' file, the list of saved partitions)");
        var parts = File.ReadAllText(file).Split((char[])[' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).ToList();
        if (parts.Count == 0) throw new ClonezillaFormatException($"{file} names no partition");
        return parts;
    }

    /// <summary>lvm_vg_dev.list's lines: <c>VG /dev/PV UUID</c>; partitions named there are restored through LVM.</summary>
    private static Dictionary<string, string> PhysicalVolumes(string dir)
    {
        var pvs = new Dictionary<string, string>(StringComparer.Ordinal);
        var file = Path.Combine(dir, "lvm_vg_dev.list");
        if (!File.Exists(file)) return pvs;
        foreach (var line in File.ReadLines(file))
        {
            if (line.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries) is not [var vg, var dev, ..]) continue;
            pvs[dev.StartsWith("/dev/", StringComparison.Ordinal) ? dev["/dev/".Length..] : dev] = vg;
        }
        return pvs;
    }
}
