using System.Globalization;
using System.Text;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>
/// Real filesystems saved by the real partclone, and the checks every reading test makes: the reader's extents are
/// partclone's own (its <c>-r -t</c> torrent.info of the image), and the data it hands out is the source's bytes.
/// </summary>
internal static class PartcloneRig
{
    /// <summary>An ext4 image (4 KiB blocks) holding random and compressible files, fragmented enough to have many runs.</summary>
    public static string Ext4(string path, int seed = 1, long size = 48 * FsImage.MiB)
    {
        var content = ContentTree.Random(path + ".content", seed, ("random.bin", 5 << 20), ("dir/small.bin", 70_000), ("dir/odd.bin", 4097));
        var text = new StringBuilder();
        for (int i = 0; i < 60_000; i++) text.Append(CultureInfo.InvariantCulture, $"line {i} of a compressible file, seed {seed}\n");
        File.WriteAllText(Path.Combine(content, "text.txt"), text.ToString());
        return FsImage.Ext4(path, size, content, ["-b", "4096"]);
    }

    /// <summary>FAT with a small tree copied in (mtools: no root).</summary>
    public static string Fat(string path, int fatBits, long size)
    {
        var tree = ContentTree.Random(path + ".content", fatBits, ("a.bin", 600_000), ("sub/b.bin", 1_300_000));
        return FsImage.Fat(path, size, fatBits, tree);
    }

    /// <summary>NTFS with a small tree copied in through ntfs-3g (root).</summary>
    public static string Ntfs(string path, long size)
    {
        var tree = ContentTree.Random(path + ".content", 7, ("a.bin", 900_000), ("sub/b.bin", 2_100_000));
        return FsImage.Ntfs(path, size, tree);
    }

    /// <summary><c>partclone.FS -c -s SRC -o IMG</c>: format 2, CRC-32 every (1 MiB / block size) blocks, the defaults.</summary>
    public static string Save(string device, string fs, string image, params string[] extra)
    {
        File.Delete(image);
        Tool.Run("partclone." + fs, ["-c", "-q", "-s", device, "-o", image, "-L", image + ".log", .. extra]);
        return image;
    }

    /// <summary>partclone's own used extents of an image (restore in torrent-only mode: torrent.info, no data), merged.</summary>
    public static Extent[] PartcloneExtents(string image, string fs)
    {
        var dir = image + ".torrent";
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Tool.Run("partclone." + fs, ["-r", "-t", "-q", "-s", image, "-O", dir, "-L", image + ".restore.log"]);
        return Merge(PartcloneTorrentInfo.Load(Path.Combine(dir, "torrent.info")).Map.Extents);
    }

    /// <summary>partclone's restore of an image into a sparse file of the device's size (<c>-W</c>).</summary>
    public static string Restore(string image, string fs, string output)
    {
        File.Delete(output);
        Tool.Run("partclone." + fs, ["-r", "-q", "-W", "-s", image, "-O", output, "-L", output + ".log"]);
        return output;
    }

    public static Extent[] Merge(IEnumerable<Extent> extents)
    {
        var merged = new List<Extent>();
        foreach (var e in extents.OrderBy(e => e.Offset))
        {
            if (merged.Count > 0 && merged[^1].End == e.Offset) merged[^1] = new Extent(merged[^1].Offset, merged[^1].Length + e.Length);
            else merged.Add(e);
        }
        return [.. merged];
    }

    /// <summary>Reads every used block through the reader and compares it with the source partition at its offset.</summary>
    public static void AssertDataEqualsSource(PartcloneImageReader reader, string device)
    {
        using var source = File.OpenRead(device);
        var expected = new byte[PartcloneImageReader.TargetChunkBytes * 2];
        int extent = 0;
        long inExtent = 0, total = 0;
        while (reader.TryReadBlocks(out var chunk))
        {
            Assert.Equal(0, chunk.Length % reader.BlockSize);
            var span = chunk.Span;
            while (!span.IsEmpty)
            {
                var e = reader.UsedExtents[extent];
                int n = (int)Math.Min(span.Length, e.Length - inExtent);
                source.Position = e.Offset + inExtent;
                source.ReadExactly(expected, 0, n);
                if (!span[..n].SequenceEqual(expected.AsSpan(0, n)))
                    Assert.Fail($"data differs from the source in extent {e} at +{inExtent}");
                span = span[n..];
                inExtent += n;
                total += n;
                if (inExtent == e.Length)
                {
                    extent++;
                    inExtent = 0;
                }
            }
        }
        Assert.Equal(reader.UsedBytes, total);
        Assert.Equal(reader.UsedExtents.Length, extent);
        Assert.Equal(reader.UsedBlocks, reader.BlocksRead);
    }

    /// <summary>Compares two files over the given extents (a partclone restore against its source).</summary>
    public static void AssertEqualOver(string expectedPath, string actualPath, IEnumerable<Extent> extents)
    {
        using var a = File.OpenRead(expectedPath);
        using var b = File.OpenRead(actualPath);
        foreach (var e in extents)
        {
            var x = new byte[e.Length];
            var y = new byte[e.Length];
            a.Position = b.Position = e.Offset;
            a.ReadExactly(x);
            b.ReadExactly(y);
            Assert.True(x.AsSpan().SequenceEqual(y), $"{actualPath} differs from {expectedPath} in {e}");
        }
    }
}
