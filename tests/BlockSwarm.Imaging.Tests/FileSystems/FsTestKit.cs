using System.Globalization;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Testing;

namespace BlockSwarm.Imaging.Tests.FileSystems;

/// <summary>
/// Steps the filesystem scanner tests share on top of <see cref="FsImage"/>: content trees, partclone's map, a copy
/// made from a map alone, and comparing what the copy holds.
/// </summary>
internal static class FsTestKit
{
    /// <summary>A small deterministic tree: a text file, a subdirectory, one multi-cluster file (FAT, NTFS, disks).</summary>
    public static string WriteTree(TempDirectory tmp)
    {
        string root = ContentTree.Random(tmp.File("tree"), 1234, ("big.bin", 700_000), (Path.Combine("sub", "deeper", "mid.bin"), 40_000));
        File.WriteAllText(Path.Combine(root, "hello.txt"), "hello, swarm\n");
        File.WriteAllText(Path.Combine(root, "sub", "notes.txt"), string.Concat(Enumerable.Repeat("notes ", 500)));
        return root;
    }

    /// <summary>A larger deterministic tree: small and multi-MiB files, nesting, an empty file, many small files (ext, XFS).</summary>
    public static string PopulateSource(TempDirectory tmp)
    {
        var rng = new Random(20240531);
        string root = ContentTree.Random(tmp.File("content"), 20240531,
            [(Path.Combine("data", "blob1.bin"), (1 << 20) + 123), (Path.Combine("data", "blob2.bin"), 5 << 20),
             .. Enumerable.Range(0, 60).Select(i => (Path.Combine("many", $"f{i:D3}.bin"), rng.Next(1, 9000)))]);
        Directory.CreateDirectory(Path.Combine(root, "nested", "a", "b", "c"));
        File.WriteAllText(Path.Combine(root, "readme.txt"), "BlockSwarm scanner test image\n");
        File.WriteAllText(Path.Combine(root, "nested", "a", "b", "c", "leaf.txt"), "deep\n");
        File.WriteAllBytes(Path.Combine(root, "empty.bin"), []);
        return root;
    }

    /// <summary>partclone's used set for an image, from the torrent.info it writes with -c -t.</summary>
    public static BlockMap PartcloneMap(string tool, string image, TempDirectory tmp)
    {
        string info = FsImage.PartcloneTorrentInfo(image, tool["partclone.".Length..], tmp.File("partclone-" + Guid.NewGuid().ToString("N")));
        return ParseTorrentInfo(info, new FileInfo(image).Length);
    }

    /// <summary>
    /// A minimal torrent.info reader (<c>offset:</c>/<c>length:</c> pairs, hex, in bytes), kept apart from the product's
    /// parser on purpose: the scanners are judged against partclone, not against our own reading of it.
    /// </summary>
    public static BlockMap ParseTorrentInfo(string path, long deviceSize)
    {
        var extents = new List<Extent>();
        long offset = -1;
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith("offset:", StringComparison.Ordinal)) offset = ParseHex(line["offset:".Length..]);
            else if (line.StartsWith("length:", StringComparison.Ordinal))
            {
                Assert.True(offset >= 0, "length: without offset: in torrent.info");
                extents.Add(new Extent(offset, ParseHex(line["length:".Length..])));
                offset = -1;
            }
        }
        return BlockMap.Normalize(deviceSize, 1, extents);
    }

    private static long ParseHex(string s) => long.Parse(s.Trim().TrimStart('0') is { Length: > 0 } t ? t : "0", NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>Copies only the mapped bytes of <paramref name="source"/> onto a new zeroed image of the same size in <paramref name="tmp"/>.</summary>
    public static string CopyByMap(string source, BlockMap map, TempDirectory tmp) =>
        CopyByMap(source, map, tmp.File("copy-" + Guid.NewGuid().ToString("N")[..8] + "-" + Path.GetFileName(source)));

    /// <summary>Copies only the mapped bytes of <paramref name="source"/> onto a new zeroed image <paramref name="target"/>.</summary>
    public static string CopyByMap(string source, BlockMap map, string target)
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
        return target;
    }

    /// <summary>Copies every file out of a FAT image (at a byte offset) with mtools and compares with the tree.</summary>
    public static void AssertFatTreeEquals(string image, string tree, TempDirectory tmp, long offset = 0)
    {
        string outDir = tmp.File("out-" + Guid.NewGuid().ToString("N"));
        FsImage.CopyOutOfFat(FsImage.FatSpec(image, offset), outDir);
        ContentTree.AssertEqual(tree, outDir);
    }

    /// <summary>Mounts an NTFS image or device read-only and compares with the tree.</summary>
    public static void AssertNtfsTreeEquals(string target, string tree) =>
        FsImage.WithNtfsMounted(target, readOnly: true, mnt => ContentTree.AssertEqual(tree, mnt));

    public static string Describe(BlockMap m) => $"{m.Extents.Length} extents, {m.UsedBytes} bytes";

    /// <summary>Blocks in <paramref name="a"/> but not in <paramref name="b"/>, in units of <paramref name="blockSize"/>.</summary>
    public static long BlocksOnlyIn(BlockMap a, BlockMap b, int blockSize) => a.Difference(b).UsedBytes / blockSize;

    /// <summary>First 64 KiB of an image, as a detector would hand it to Probe.</summary>
    public static byte[] Head(string image)
    {
        using var f = File.OpenRead(image);
        var head = new byte[Math.Min(65536, f.Length)];
        f.ReadExactly(head);
        return head;
    }

    /// <summary>Overwrites bytes of an image in place (corruption tests).</summary>
    public static void Patch(string image, long offset, ReadOnlySpan<byte> bytes)
    {
        using var h = File.OpenHandle(image, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(h, bytes, offset);
    }
}
