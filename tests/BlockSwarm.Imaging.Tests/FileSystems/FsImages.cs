using System.Globalization;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

/// <summary>Builds small populated filesystem images with the real Debian tools, and checks copies made from a map.</summary>
internal static class FsImages
{
    public const long MiB = 1 << 20;

    /// <summary>A deterministic tree: small files, a subdirectory, one multi-cluster file.</summary>
    public static string WriteTree(TempDirectory tmp)
    {
        string root = tmp.File("tree");
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        var rng = new Random(1234);
        File.WriteAllText(Path.Combine(root, "hello.txt"), "hello, swarm\n");
        File.WriteAllText(Path.Combine(root, "sub", "notes.txt"), string.Concat(Enumerable.Repeat("notes ", 500)));
        var big = new byte[700_000];
        rng.NextBytes(big);
        File.WriteAllBytes(Path.Combine(root, "big.bin"), big);
        var mid = new byte[40_000];
        rng.NextBytes(mid);
        File.WriteAllBytes(Path.Combine(root, "sub", "deeper", "mid.bin"), mid);
        return root;
    }

    /// <summary>mkfs.vfat on a region of a file (offset in bytes, 0 for a plain image) then mcopy the tree.</summary>
    public static void MakeFat(string image, int fatBits, string tree, long offset = 0, long length = 0)
    {
        if (offset == 0 && length == 0)
        {
            Tool.Run("mkfs.vfat", "-F", fatBits.ToString(CultureInfo.InvariantCulture), "-n", "SWARM", image);
            Tool.Sh($"mcopy -i '{image}' -s '{tree}'/* ::/");
        }
        else
        {
            // --offset is in sectors; the block count (KiB) bounds the filesystem to the partition.
            Tool.Run("mkfs.vfat", "-F", fatBits.ToString(CultureInfo.InvariantCulture), "-n", "SWARM",
                "--offset", (offset / 512).ToString(CultureInfo.InvariantCulture), image,
                (length / 1024).ToString(CultureInfo.InvariantCulture));
            Tool.Sh($"mcopy -i '{image}@@{offset}' -s '{tree}'/* ::/");
        }
    }

    /// <summary>mkfs.ntfs on an image file or loop device, populated through an ntfs-3g mount.</summary>
    public static void MakeNtfs(string target, string tree, TempDirectory tmp, params string[] mkfsOptions)
    {
        Tool.Run("mkfs.ntfs", ["-f", "-F", "-q", .. mkfsOptions, target]);
        string mnt = tmp.File("mnt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mnt);
        Tool.Run("ntfs-3g", target, mnt);
        try { Tool.Sh($"cp -r '{tree}'/* '{mnt}'/ && sync"); }
        finally { Tool.Run("umount", mnt); }
    }

    /// <summary>Attaches a loop device over part of an image; dispose detaches it.</summary>
    public sealed class Loop : IDisposable
    {
        public Loop(string image, long offset, long length)
        {
            Device = Tool.Run("losetup", "--find", "--show", "-o", offset.ToString(CultureInfo.InvariantCulture),
                "--sizelimit", length.ToString(CultureInfo.InvariantCulture), image).StdOut.Trim();
        }

        public string Device { get; }

        public void Dispose() => Tool.Run("losetup", ["-d", Device], check: false);
    }

    /// <summary>A zeroed image of the source's size holding only the mapped bytes.</summary>
    public static void CopyByMap(string source, BlockMap map, string target)
    {
        using var src = DeviceFile.OpenRead(source);
        using var dst = DeviceFile.CreateImage(target, src.Size);
        var buf = new byte[1 << 20];
        foreach (var e in map.Extents)
        {
            for (long off = e.Offset; off < e.End; off += buf.Length)
            {
                int n = (int)Math.Min(buf.Length, e.End - off);
                src.ReadExactly(off, buf.AsSpan(0, n));
                dst.WriteAll(off, buf.AsSpan(0, n));
            }
        }
    }

    /// <summary>partclone's used set for an image, from the torrent.info it writes with -t.</summary>
    public static BlockMap PartcloneMap(string tool, string image, TempDirectory tmp)
    {
        string outDir = tmp.File("pc-" + Guid.NewGuid().ToString("N"));
        Tool.Run(tool, "-c", "-t", "-s", image, "-O", outDir, "-L", tmp.File("partclone.log"));
        return ParseTorrentInfo(File.ReadAllLines(Path.Combine(outDir, "torrent.info")), new FileInfo(image).Length);
    }

    /// <summary>Tiny local torrent.info reader (offset:/length: lines in hex); the production one lives in Imaging's owner's branch.</summary>
    public static BlockMap ParseTorrentInfo(IEnumerable<string> lines, long deviceSize)
    {
        var extents = new List<Extent>();
        long? offset = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("offset:", StringComparison.Ordinal))
                offset = long.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            else if (line.StartsWith("length:", StringComparison.Ordinal) && offset is long o)
                extents.Add(new Extent(o, long.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        }
        return BlockMap.Normalize(deviceSize, 1, extents);
    }

    /// <summary>Copies every file out of a FAT image (at a byte offset) with mtools and compares with the tree.</summary>
    public static void AssertFatTreeEquals(string image, string tree, TempDirectory tmp, long offset = 0)
    {
        string outDir = tmp.File("out-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(outDir);
        string spec = offset == 0 ? image : $"{image}@@{offset}";
        Tool.Sh($"mcopy -s -n -i '{spec}' '::*' '{outDir}'/");
        AssertTreesEqual(tree, outDir);
    }

    /// <summary>Mounts an NTFS image or device read-only and compares with the tree.</summary>
    public static void AssertNtfsTreeEquals(string target, string tree, TempDirectory tmp)
    {
        string mnt = tmp.File("ro-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mnt);
        Tool.Run("ntfs-3g", "-o", "ro", target, mnt);
        try { AssertTreesEqual(tree, mnt); }
        finally { Tool.Run("umount", mnt); }
    }

    public static void AssertTreesEqual(string expected, string actual)
    {
        var want = Directory.GetFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order().ToList();
        var got = Directory.GetFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order().ToList();
        Assert.Equal(want, got);
        foreach (var rel in want)
            Assert.True(File.ReadAllBytes(Path.Combine(expected, rel)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, rel))), $"{rel} differs");
    }

    public static string Describe(BlockMap m) => $"{m.Extents.Length} extents, {m.UsedBytes} bytes";
}
