namespace BlockSwarm.Clonezilla;

/// <summary>
/// A Clonezilla image directory saved by <c>ocs-sr savedisk</c> (/home/partimag/IMAGE): the disks it holds, each with its
/// partition table, partition images and the boot areas restoredisk writes. <see cref="Load"/> checks everything it can
/// without decompressing (files present, split pieces whole, names known, partitions inside their disk) and throws a
/// <see cref="ClonezillaFormatException"/> naming the file for anything BlockSwarm could not restore as Clonezilla does.
/// docs/clonezilla-image-format.md describes the directory.
/// </summary>
public sealed class ClonezillaImage
{
    private ClonezillaImage(string path, IReadOnlyList<string> parts, IReadOnlyList<ClonezillaDisk> disks)
    {
        Path = path;
        PartitionNames = parts;
        Disks = disks;
    }

    /// <summary>The image directory.</summary>
    public string Path { get; }

    /// <summary>The <c>parts</c> file: the partitions savedisk imaged, in its order.</summary>
    public IReadOnlyList<string> PartitionNames { get; }

    /// <summary>The <c>disk</c> file's disks, in its order (one swarm each: the caller picks one or refuses several).</summary>
    public IReadOnlyList<ClonezillaDisk> Disks { get; }

    public static ClonezillaImage Load(string path)
    {
        if (!Directory.Exists(path)) throw new ClonezillaFormatException($"{path}: no such image directory");
        var diskFile = System.IO.Path.Combine(path, "disk");
        if (!File.Exists(diskFile))
            throw new ClonezillaFormatException(File.Exists(System.IO.Path.Combine(path, "parts"))
                ? $"{path}: a partition image (saveparts, no 'disk' file); BlockSwarm deploys whole-disk images (savedisk)"
                : $"{path}: not a Clonezilla image directory (no 'disk' and no 'parts' file)");
        var disks = Words(diskFile);
        if (disks.Count == 0) throw new ClonezillaFormatException($"{diskFile} names no disk");
        var partsFile = System.IO.Path.Combine(path, "parts");
        if (!File.Exists(partsFile)) throw new ClonezillaFormatException($"{path}: no 'parts' file (the list of saved partitions)");
        var parts = Words(partsFile);
        RefuseLvmAndLuks(path);

        var partSet = parts.ToHashSet(StringComparer.Ordinal);
        var loaded = disks.Select(d => ClonezillaDiskLoader.Load(path, d, partSet)).ToList();
        var known = loaded.SelectMany(d => d.Partitions).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var p in parts)
            if (!known.Contains(p))
                throw new ClonezillaFormatException($"{partsFile}: partition {p} is in no saved disk's partition table ({string.Join(", ", disks.Select(d => d + "-pt.sf"))})");
        return new ClonezillaImage(path, parts, loaded);
    }

    private static List<string> Words(string file) =>
        [.. File.ReadAllText(file).Split((char[])[' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>
    /// restoredisk rebuilds LVM (PVs, VGs, LVs from lvm_*.conf, then each LV's image) and LUKS containers itself:
    /// layouts BlockSwarm does not write yet, so such images are refused by name rather than restored without them.
    /// </summary>
    private static void RefuseLvmAndLuks(string path)
    {
        var vgList = System.IO.Path.Combine(path, "lvm_vg_dev.list");
        var vgs = new SortedSet<string>(StringComparer.Ordinal);
        if (File.Exists(vgList))
            foreach (var line in File.ReadLines(vgList))
                if (line.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries) is [var vg, ..]) vgs.Add(vg);
        foreach (var conf in Directory.EnumerateFiles(path, "lvm_*.conf"))
            vgs.Add(System.IO.Path.GetFileNameWithoutExtension(conf)["lvm_".Length..]);
        if (vgs.Count > 0 || File.Exists(System.IO.Path.Combine(path, "lvm_logv.list")))
            throw new ClonezillaFormatException(
                $"{path}: holds LVM volume group {(vgs.Count == 0 ? "(unnamed)" : string.Join(", ", vgs))} (lvm_vg_dev.list, lvm_*.conf); " +
                "BlockSwarm does not deploy LVM images yet: restore this image with Clonezilla");
        if (File.Exists(System.IO.Path.Combine(path, "luks-dev.list")))
            throw new ClonezillaFormatException($"{path}: holds LUKS-encrypted partitions (luks-dev.list); BlockSwarm does not deploy them yet");
    }
}
