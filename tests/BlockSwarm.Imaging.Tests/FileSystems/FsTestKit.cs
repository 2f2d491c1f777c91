using System.Globalization;
using BlockSwarm.Imaging;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

/// <summary>Shared steps of the filesystem scanner tests: content, partclone's map, copy by map, compare.</summary>
internal static class FsTestKit
{
    /// <summary>A deterministic tree: small and multi-MiB files, nesting, an empty file, many small files.</summary>
    public static string PopulateSource(TempDirectory tmp)
    {
        string root = tmp.File("content");
        var rng = new Random(20240531);
        Directory.CreateDirectory(Path.Combine(root, "nested", "a", "b", "c"));
        Directory.CreateDirectory(Path.Combine(root, "data"));
        Directory.CreateDirectory(Path.Combine(root, "many"));
        File.WriteAllText(Path.Combine(root, "readme.txt"), "BlockSwarm scanner test image\n");
        File.WriteAllText(Path.Combine(root, "nested", "a", "b", "c", "leaf.txt"), "deep\n");
        File.WriteAllBytes(Path.Combine(root, "empty.bin"), []);
        WriteRandom(Path.Combine(root, "data", "blob1.bin"), (1 << 20) + 123, rng);
        WriteRandom(Path.Combine(root, "data", "blob2.bin"), 5 << 20, rng);
        for (int i = 0; i < 60; i++)
            WriteRandom(Path.Combine(root, "many", $"f{i:D3}.bin"), rng.Next(1, 9000), rng);
        return root;
    }

    private static void WriteRandom(string path, int length, Random rng)
    {
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
    }

    public static string SparseImage(TempDirectory tmp, string name, long size)
    {
        string path = tmp.File(name);
        using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write)) fs.SetLength(size);
        return path;
    }

    /// <summary>
    /// Runs partclone in ClonezillaBT torrent-only mode (<c>-c -t</c>: writes only
    /// <c>torrent.info</c> into the <c>-O</c> directory, no block data) and parses its map.
    /// </summary>
    public static BlockMap PartcloneMap(string tool, string image, TempDirectory tmp)
    {
        string outDir = tmp.File("partclone-" + Path.GetFileName(image));
        Tool.Run(tool, "-c", "-t", "-q", "-s", image, "-O", outDir);
        return ParseTorrentInfo(Path.Combine(outDir, "torrent.info"), new FileInfo(image).Length);
    }

    /// <summary>Minimal torrent.info reader: <c>offset:</c>/<c>length:</c> pairs of 32 hex digits, in bytes.</summary>
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

    /// <summary>Copies only the mapped bytes of <paramref name="source"/> onto a zeroed sparse file of the same size.</summary>
    public static string CopyByMap(string source, BlockMap map, TempDirectory tmp)
    {
        string target = SparseImage(tmp, "copy-" + Path.GetFileName(source), new FileInfo(source).Length);
        using var src = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
        using var dst = File.OpenHandle(target, FileMode.Open, FileAccess.Write);
        var buf = new byte[1 << 20];
        foreach (var e in map.Extents)
        {
            for (long off = e.Offset; off < e.End; off += buf.Length)
            {
                int n = (int)Math.Min(buf.Length, e.End - off);
                int got = RandomAccess.Read(src, buf.AsSpan(0, n), off);
                Assert.Equal(n, got);
                RandomAccess.Write(dst, buf.AsSpan(0, n), off);
            }
        }
        return target;
    }

    /// <summary>Every file under <paramref name="expected"/> exists under <paramref name="actual"/> with the same bytes.</summary>
    public static int AssertSameFiles(string expected, string actual)
    {
        int files = 0;
        foreach (string path in Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(expected, path);
            string other = Path.Combine(actual, rel);
            Assert.True(File.Exists(other), $"{rel} is missing from the copy");
            Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(other)), $"{rel} differs in the copy");
            files++;
        }
        return files;
    }

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
