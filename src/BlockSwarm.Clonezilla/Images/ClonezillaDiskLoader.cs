using System.Globalization;
using BlockSwarm.Imaging.Partitions;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// Reads one disk of an image directory: its dump, size, partitions and their images, and lays out what restoredisk
/// writes, step by step in restoredisk's order (<c>task_restoreparts</c> in ocs-functions), later steps over earlier ones.
/// </summary>
internal static class ClonezillaDiskLoader
{
    private const long MiB = 1 << 20;

    /// <summary>clean_raid_metadata_in_disk: <c>dd bs=512 seek=$(( $(blockdev --getsz) - 1024 )) count=1024</c>.</summary>
    private const long RaidWipeLength = 1024 * 512;

    private const string GptSwapType = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F";

    public static ClonezillaDisk Load(string dir, string disk, IReadOnlySet<string> parts)
    {
        var file = Path.Combine(dir, PartitionImageFiles.ToFileName(disk));
        if (!File.Exists(file + "-pt.sf"))
            throw new ClonezillaFormatException($"{dir}: disk {disk} has no partition table dump {Path.GetFileName(file)}-pt.sf");
        var dump = SfdiskDump.Load(file + "-pt.sf");
        var parted = PartedListing.Load(file + "-pt.parted");
        int ss = dump.SectorSize;
        if (parted.SectorSize is { } ps && ps != ss)
            throw new ClonezillaFormatException($"{dump.File}: sector size {ss} disagrees with {file}-pt.parted ({ps})");
        var table = dump.Label == "gpt" ? PartitionScheme.Gpt : PartitionScheme.Mbr;
        var mbrFile = file + "-mbr";
        if (!File.Exists(mbrFile) || new FileInfo(mbrFile).Length < 512)
            throw new ClonezillaFormatException($"{dir}: disk {disk} has no 512-byte MBR file {Path.GetFileName(mbrFile)}");

        GptAreas? gpt = table == PartitionScheme.Gpt ? GptAreas.Load(file + "-gpt-1st", ss) : null;
        long sectors = parted.DiskSectors ?? gpt?.DiskSectors
            ?? throw new ClonezillaFormatException($"{dir}: the size of disk {disk} is unknown ({Path.GetFileName(file)}-pt.parted has no 'Disk' line)");
        if (gpt != null && gpt.DiskSectors != sectors)
            throw new ClonezillaFormatException($"{file}-gpt-1st: the backup GPT header is at sector {gpt.DiskSectors - 1}, not at the disk's last sector {sectors - 1}");
        long size = sectors * ss;

        var partitions = new List<ClonezillaPartition>();
        foreach (var e in dump.Entries)
        {
            if (e.Start + e.Size > sectors || e.Size == 0)
                throw new ClonezillaFormatException($"{dump.File} line {e.Line}: {e.Name} [{e.Start}, {e.Start + e.Size}) does not fit the disk's {sectors} sectors");
            partitions.Add(Partition(dir, e, table, ss, parts.Contains(e.Name), parted.SwapNumbers.Contains(e.Number)));
        }

        var layers = new List<ClonezillaBootArea>
        {
            ClonezillaBootArea.Zeros(0, Math.Min(MiB, size), "ocs-clean-disk-part-fs: the disk's first MiB zeroed (clean_filesystem_header_in_dev)"),
            ClonezillaBootArea.Zeros(Math.Max(0, size - RaidWipeLength), Math.Min(RaidWipeLength, size), "clean_raid_metadata_in_disk: the last 1024 512-byte sectors zeroed"),
            ClonezillaBootArea.FromFile(446, 66, mbrFile, 446, table == PartitionScheme.Gpt ? "sfdisk: protective MBR entries and 55 AA" : "sfdisk: MBR partition table and 55 AA"),
        };
        if (gpt != null) layers.AddRange(gpt.Areas(sectors));
        else
        {
            layers.AddRange(Ebrs(dump, ss, dir, disk));
            HiddenData(layers, file + "-hidden-data-after-mbr", dump);
            foreach (var ext in dump.Entries.Where(IsExtended))
            {
                var ebrFile = Path.Combine(dir, PartitionImageFiles.ToFileName(ext.Name) + "-ebr");
                if (File.Exists(ebrFile) && new FileInfo(ebrFile).Length >= 446)
                    layers.Add(ClonezillaBootArea.FromFile(ext.Start * ss, 446, ebrFile, 0, "ocs-restore-ebr: the first EBR's first 446 bytes"));
            }
        }
        layers.Add(ClonezillaBootArea.FromFile(0, 446, mbrFile, 0, "ocs-restore-mbr: the MBR's first 446 bytes (boot code, disk signature)"));

        var inside = partitions.Where(p => p.Content != ClonezillaContentKind.None).Select(p => (p.Start, p.End)).ToList();
        var wipes = layers.Where(l => l.Source == ClonezillaBootAreaSource.Zeros).ToList();
        foreach (var p in partitions.Where(p => p.Content is ClonezillaContentKind.Partclone or ClonezillaContentKind.Dd))
            wipes.Add(ClonezillaBootArea.Zeros(p.Start, Math.Min(MiB, p.Length), $"clean_filesystem_header_in_dev {p.Name}: its first MiB zeroed before the image"));
        foreach (var area in layers.Where(a => a.Source != ClonezillaBootAreaSource.Zeros))
            if (inside.Any(r => area.DiskOffset < r.End && r.Start < area.End))
                throw new ClonezillaFormatException($"{dir}: {area.Purpose} (byte {area.DiskOffset}) falls inside a partition restoredisk restores");
        var bootAreas = Flatten(layers, inside, keepInside: false);
        return new ClonezillaDisk(disk, size, ss, table, partitions, bootAreas, Flatten(wipes, inside, keepInside: true));
    }

    private static bool IsExtended(SfdiskEntry e) => e.Type.ToLowerInvariant() is "5" or "05" or "f" or "0f" or "85";

    private static ClonezillaPartition Partition(string dir, SfdiskEntry e, PartitionScheme table, int ss, bool inParts, bool partedSwap)
    {
        bool extended = table == PartitionScheme.Mbr && IsExtended(e);
        var image = inParts ? PartitionImageFiles.Find(dir, e.Name) : null;
        if (inParts && image is null)
            throw new ClonezillaFormatException($"{dir}: partition {e.Name} is listed in 'parts' but has no image ({PartitionImageFiles.ToFileName(e.Name)}.<fs>-ptcl-img.<comp>)");
        var swapFile = Path.Combine(dir, $"swappt-{PartitionImageFiles.ToFileName(e.Name)}.info");
        // restoredisk runs mkswap for partitions its table files call swap (get_swap_partition_sf_format/_parted_format).
        bool swapType = table == PartitionScheme.Gpt
            ? partedSwap || string.Equals(e.Type, GptSwapType, StringComparison.OrdinalIgnoreCase)
            : e.Type.Equals("82", StringComparison.OrdinalIgnoreCase);
        ClonezillaSwapInfo? swap = image is null && !extended && (swapType || File.Exists(swapFile)) ? SwapInfo(swapFile) : null;
        var content = image?.Kind ?? (swap != null ? ClonezillaContentKind.Swap : ClonezillaContentKind.None);
        return new ClonezillaPartition(e.Name, e.Number, e.Start * ss, e.Size * ss, e.Type, e.Bootable, extended, content, image, swap);
    }

    /// <summary><c>swappt-&lt;part&gt;.info</c>: <c>UUID="…"</c> and <c>LABEL="…"</c> lines, sourced by restoredisk's shell.</summary>
    private static ClonezillaSwapInfo SwapInfo(string file)
    {
        if (!File.Exists(file)) return new ClonezillaSwapInfo(null, "");
        Guid? uuid = null;
        string label = "";
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Trim();
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) continue;
            var value = line[(eq + 1)..].Trim().Trim('"');
            switch (line[..eq])
            {
                case "UUID" when value.Length > 0:
                    uuid = Guid.TryParse(value, CultureInfo.InvariantCulture, out var g) ? g
                        : throw new ClonezillaFormatException($"{file}: UUID '{value}' is not a UUID");
                    break;
                case "LABEL":
                    label = value;
                    break;
            }
        }
        return new ClonezillaSwapInfo(uuid, label);
    }

    private static IEnumerable<ClonezillaBootArea> Ebrs(SfdiskDump dump, int ss, string dir, string disk)
    {
        var extended = dump.Entries.Where(IsExtended).ToList();
        if (extended.Count == 0) yield break;
        if (extended.Count > 1) throw new ClonezillaFormatException($"{dump.File}: more than one extended partition");
        var (heads, sectors) = Geometry(Path.Combine(dir, PartitionImageFiles.ToFileName(disk) + "-chs.sf"));
        var logicals = dump.Entries.Where(e => e.Number > 4).OrderBy(e => e.Number).ToList();
        foreach (var ebr in EbrChain.Build(extended[0], logicals, ss, heads, sectors))
            yield return ClonezillaBootArea.FromBytes(ebr.Sector * ss, ebr.Bytes, $"sfdisk: EBR at sector {ebr.Sector}");
    }

    /// <summary>
    /// The source disk's heads and sectors per track (<c>&lt;disk&gt;-chs.sf</c>), which sfdisk's CHS fields use; 255/63
    /// (libfdisk's default when the kernel reports no geometry, as for loop devices and most disks) without the file.
    /// </summary>
    private static (int Heads, int Sectors) Geometry(string file)
    {
        int heads = 255, sectors = 63;
        if (!File.Exists(file)) return (heads, sectors);
        foreach (var line in File.ReadLines(file))
        {
            var kv = line.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !int.TryParse(kv[1], CultureInfo.InvariantCulture, out var n) || n <= 0) continue;
            if (kv[0] == "heads") heads = n;
            else if (kv[0] == "sectors") sectors = n;
        }
        return (heads, sectors);
    }

    /// <summary>
    /// restore_hidden_data_after_MBR: <c>dd bs=512 seek=1 count=size/512</c>, skipped when the file does not fit before the
    /// first partition (parted's lowest start, extended ones included).
    /// </summary>
    private static void HiddenData(List<ClonezillaBootArea> layers, string file, SfdiskDump dump)
    {
        if (!File.Exists(file)) return;
        long sectors512 = new FileInfo(file).Length / 512;
        long firstStart = dump.Entries.Min(e => e.Start);
        if (sectors512 == 0 || sectors512 > firstStart - 1) return;
        layers.Add(ClonezillaBootArea.FromFile(512, sectors512 * 512, file, 0, "restore_hidden_data_after_MBR: the data between the MBR and the first partition"));
    }

    /// <summary>
    /// Lays <paramref name="layers"/> one over the other (later wins) and keeps the pieces outside
    /// <paramref name="partitions"/> (or inside, with <paramref name="keepInside"/>), merged where one layer continues.
    /// </summary>
    private static List<ClonezillaBootArea> Flatten(List<ClonezillaBootArea> layers, List<(long Start, long End)> partitions, bool keepInside)
    {
        var cuts = layers.SelectMany(l => new[] { l.DiskOffset, l.End })
            .Concat(partitions.SelectMany(p => new[] { p.Start, p.End })).Distinct().Order().ToList();
        var result = new List<ClonezillaBootArea>();
        int lastLayer = -1;
        for (int i = 0; i + 1 < cuts.Count; i++)
        {
            long a = cuts[i], b = cuts[i + 1];
            int top = layers.FindLastIndex(l => l.DiskOffset <= a && b <= l.End);
            bool inside = partitions.Any(p => p.Start <= a && b <= p.End);
            if (top < 0 || inside != keepInside)
            {
                lastLayer = -1;
                continue;
            }
            bool sameRun = result.Count > 0 && lastLayer == top && result[^1].End == a;
            if (sameRun) result[^1] = layers[top].Slice(result[^1].DiskOffset, b);
            else if (keepInside && result.Count > 0 && result[^1].End == a && result[^1].Source == ClonezillaBootAreaSource.Zeros && layers[top].Source == ClonezillaBootAreaSource.Zeros)
                result[^1] = result[^1] with { Length = b - result[^1].DiskOffset };
            else result.Add(layers[top].Slice(a, b));
            lastLayer = top;
        }
        return result;
    }
}
