using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// Real filesystem images made by the real Debian tools (mkfs.ext2/3/4 with -d, mkfs.vfat + mtools, mkfs.ntfs +
/// ntfs-3g, mkfs.xfs) for tests and the bench. Each maker first declares the tools it needs (<see cref="Requires"/>)
/// and starts from a new all-zero file: mkfs over an older image leaves that image's blocks wherever the new file
/// system does not write, and a retried test then judged stale data (an XFS retry in CI did).
/// </summary>
public static class FsImage
{
    public const long MiB = 1 << 20;

    /// <summary>
    /// Copies <paramref name="length"/> bytes at <paramref name="offset"/> of a disk image into a new file <paramref name="to"/>
    /// (a partition to fsck on its own); a disk shorter than that is an error.
    /// </summary>
    public static string CopyOut(string disk, long offset, long length, string to)
    {
        using var src = File.OpenRead(disk);
        using var dst = File.Create(to);
        CopyRange(src, offset, length, dst, disk);
        return to;
    }

    /// <summary>
    /// Appends <paramref name="length"/> bytes at <paramref name="offset"/> of <paramref name="src"/> to <paramref name="dst"/>;
    /// a source (named <paramref name="name"/> in the error) shorter than that is an error.
    /// </summary>
    public static void CopyRange(Stream src, long offset, long length, Stream dst, string name)
    {
        src.Position = offset;
        var buffer = new byte[1 << 20];
        for (long left = length; left > 0;)
        {
            int n = src.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new EndOfStreamException($"{name} ends before byte {offset + length} (a range of {length} bytes at {offset})");
            dst.Write(buffer, 0, n);
            left -= n;
        }
    }

    /// <summary>A new sparse all-zero file of <paramref name="size"/> bytes at <paramref name="path"/> (an older file there is replaced).</summary>
    public static string Blank(string path, long size)
    {
        File.Delete(path);
        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write)) fs.SetLength(size);
        return path;
    }

    /// <summary>
    /// ext4 (or ext2/ext3 with <paramref name="mkfs"/>) on a new image, populated from <paramref name="content"/> with
    /// <c>-d</c> (files owned by root, whoever runs the test); <paramref name="options"/> go to mkfs before the image.
    /// </summary>
    public static string Ext4(string image, long size, string? content = null, IEnumerable<string>? options = null, string mkfs = "mkfs.ext4")
    {
        Requires.Tools(mkfs);
        Blank(image, size);
        var args = new List<string> { "-q", "-F" };
        args.AddRange(options ?? []);
        if (content != null) args.AddRange(["-E", "root_owner=0:0", "-d", content]);
        args.Add(image);
        Tool.Run(mkfs, args);
        return image;
    }

    /// <summary>
    /// A small system-partition-like ext4 image: big.bin, medium.bin and small.txt of seeded random data plus
    /// etc/hostname, made by mkfs.ext4 -d (the content tree sits beside the image, <c>IMAGE.content</c>).
    /// </summary>
    public static string SampleExt4(string image, long size, int seed = 1, int bigBytes = 20 << 20, int mediumBytes = 3 << 20, int blockSize = 4096)
    {
        var content = ContentTree.Random(image + ".content", seed, ("big.bin", bigBytes), ("medium.bin", mediumBytes), ("small.txt", 1234));
        Directory.CreateDirectory(Path.Combine(content, "etc"));
        File.WriteAllText(Path.Combine(content, "etc", "hostname"), "lab-pc-01\n");
        return Ext4(image, size, content, ["-b", blockSize.ToString(CultureInfo.InvariantCulture)]);
    }

    /// <summary>FAT12/16/32 on a new image, with <paramref name="tree"/> copied in by mtools (no mount, no root).</summary>
    public static string Fat(string image, long size, int fatBits, string? tree = null, params string[] options)
    {
        Requires.Tools("mkfs.vfat", "mcopy");
        Blank(image, size);
        Tool.Run("mkfs.vfat", ["-F", fatBits.ToString(CultureInfo.InvariantCulture), "-n", "SWARM", .. options, image]);
        if (tree != null) CopyIntoFat(image, tree);
        return image;
    }

    /// <summary>FAT on a partition of a disk image (<paramref name="offset"/>, <paramref name="length"/> in bytes), with <paramref name="tree"/> copied in.</summary>
    public static void FatInPartition(string disk, long offset, long length, int fatBits, string? tree = null)
    {
        Requires.Tools("mkfs.vfat", "mcopy");
        // --offset is in sectors; the block count (KiB) bounds the filesystem to the partition.
        Tool.Run("mkfs.vfat", "-F", fatBits.ToString(CultureInfo.InvariantCulture), "-n", "SWARM",
            "--offset", (offset / 512).ToString(CultureInfo.InvariantCulture), disk, (length / 1024).ToString(CultureInfo.InvariantCulture));
        if (tree != null) CopyIntoFat($"{disk}@@{offset}", tree);
    }

    /// <summary>mtools' image spec: a file, or <c>FILE@@OFFSET</c> for a partition.</summary>
    public static string FatSpec(string image, long offset = 0) => offset == 0 ? image : $"{image}@@{offset}";

    private static void CopyIntoFat(string spec, string tree) => Tool.Sh($"mcopy -i '{spec}' -s '{tree}'/* ::/");

    /// <summary>Copies every file out of a FAT image (or partition, <see cref="FatSpec"/>) into <paramref name="outDir"/> with mtools.</summary>
    public static void CopyOutOfFat(string spec, string outDir)
    {
        Directory.CreateDirectory(outDir);
        Tool.Sh($"mcopy -s -n -i '{spec}' '::*' '{outDir}'/");
    }

    /// <summary>
    /// NTFS on a new image of <paramref name="size"/> bytes, or on an existing device or partition when size is 0,
    /// populated through an ntfs-3g mount (root) when <paramref name="tree"/> is given.
    /// </summary>
    public static string Ntfs(string target, long size, string? tree = null, params string[] options)
    {
        Requires.Tools("mkfs.ntfs");
        if (tree != null) Requires.All(Need.Root, "ntfs-3g");
        if (size > 0) Blank(target, size);
        Tool.Run("mkfs.ntfs", ["-f", "-F", "-q", .. options, target]);
        if (tree != null) WithNtfsMounted(target, readOnly: false, mnt => Tool.Sh($"cp -r '{tree}'/* '{mnt}'/ && sync"));
        return target;
    }

    /// <summary>Mounts an NTFS image or device with ntfs-3g for the length of <paramref name="use"/>.</summary>
    public static void WithNtfsMounted(string target, bool readOnly, Action<string> use)
    {
        Requires.All(Need.Root, "ntfs-3g");
        var mnt = Directory.CreateTempSubdirectory("blockswarm-ntfs-").FullName;
        try
        {
            Tool.Run("ntfs-3g", readOnly ? ["-o", "ro", target, mnt] : [target, mnt]);
            try { use(mnt); }
            finally { Tool.Run("umount", mnt); }
        }
        finally
        {
            Directory.Delete(mnt);
        }
    }

    /// <summary>XFS on a new image (xfsprogs ≥ 5.19 refuses file systems under 300 MB; sparse, so the size costs little).</summary>
    public static string Xfs(string image, long size, params string[] options)
    {
        Requires.Tools("mkfs.xfs");
        Blank(image, size);
        Tool.Run("mkfs.xfs", ["-q", "-f", .. options, image]);
        return image;
    }

    /// <summary>
    /// partclone's used-block list for an image (<c>partclone.FS -c -t</c>, ClonezillaBT torrent-only mode: only
    /// <c>torrent.info</c> is written into <paramref name="outDir"/>, no block data); returns its path.
    /// </summary>
    public static string PartcloneTorrentInfo(string image, string fs, string outDir, string? bufferSize = null)
    {
        var tool = "partclone." + fs;
        Requires.Tools(tool);
        Directory.CreateDirectory(outDir);
        var args = new List<string> { "-c", "-t", "-q", "-s", image, "-O", outDir, "-L", Path.Combine(outDir, "partclone.log") };
        if (bufferSize != null) args.AddRange(["-z", bufferSize]);
        Tool.Run(tool, args);
        return Path.Combine(outDir, "torrent.info");
    }
}
