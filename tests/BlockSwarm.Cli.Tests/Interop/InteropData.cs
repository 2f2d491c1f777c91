using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>Test data for interop runs: a block-image torrent and its files as a standard client stores them.</summary>
internal static class InteropData
{
    /// <summary>
    /// A 40 MiB image holding about 25 MiB of random data in extents whose edges do not fall on piece
    /// boundaries (so pieces span files), its <c>--map nonzero</c> torrent with 256 KiB pieces, and the
    /// torrent's plain files written from the image under <paramref name="seedDir"/>/NAME/&lt;hex32&gt;.
    /// </summary>
    public static async Task<Torrent> BlockImageTorrentAsync(TempDirectory dir, string seedDir, string torrentPath, int seed = 4242)
    {
        var (t, img) = await BlockImageAsync(dir, torrentPath, seed);
        WritePlainFiles(t, img, seedDir);
        File.Delete(img);
        return t;
    }

    /// <summary>
    /// The image of <see cref="BlockImageTorrentAsync"/> (kept, as dir/disk.img) and its torrent, made by
    /// <c>blockswarm create</c> with <paramref name="createArgs"/> added (e.g. <c>--tracker URL</c>).
    /// </summary>
    public static async Task<(Torrent Torrent, string Image)> BlockImageAsync(TempDirectory dir, string torrentPath, int seed = 4242, string name = "disk",
        params string[] createArgs)
    {
        var img = dir.File("disk.img");
        var rnd = new Random(seed);
        (long Offset, int Length)[] extents =
        [
            (0, (3 << 20) + (192 << 10)),
            (6 << 20, 9 << 20),
            ((20 << 20) + (64 << 10), 128 << 10),
            (24 << 20, (12 << 20) - (64 << 10)),
            ((39 << 20) + (512 << 10), 320 << 10),
        ];
        using (var f = new FileStream(img, FileMode.Create))
        {
            f.SetLength(40L << 20);
            foreach (var (offset, length) in extents)
            {
                var data = new byte[length];
                rnd.NextBytes(data);
                f.Position = offset;
                f.Write(data);
            }
        }
        var r = await CliRunner.RunAsync(["create", "--source", img, "--map", "nonzero", "--piece-size", "256KiB", "--name", name, "-o", torrentPath, .. createArgs]);
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        var t = Torrent.Load(torrentPath);
        Assert.True(t.Files.Length >= extents.Length, $"expected at least {extents.Length} files, got {t.Files.Length}");
        return (t, img);
    }

    /// <summary>Writes each file of a block-image torrent (named by its hex device offset) from the image.</summary>
    public static void WritePlainFiles(Torrent t, string image, string root)
    {
        using var src = new FileStream(image, FileMode.Open, FileAccess.Read);
        foreach (var file in t.Files)
        {
            Assert.True(BlockImageLayout.TryParseHexOffset(file.Path[^1], out long offset), file.PathString);
            var path = PathOf(root, t, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var data = new byte[file.Length];
            src.Position = offset;
            src.ReadExactly(data);
            File.WriteAllBytes(path, data);
        }
    }

    /// <summary>Where a standard client keeps a torrent's file: ROOT/NAME/PATH (multi-file) or ROOT/NAME.</summary>
    public static string PathOf(string root, Torrent t, TorrentFile file) =>
        t.IsMultiFile ? Path.Combine([root, t.Name, .. file.Path]) : Path.Combine(root, t.Name);

    /// <summary>Asserts every file of <paramref name="t"/> under <paramref name="actualRoot"/> equals the one under <paramref name="expectedRoot"/>, byte for byte.</summary>
    public static void AssertSameFiles(Torrent t, string expectedRoot, string actualRoot)
    {
        foreach (var file in t.Files)
        {
            var expected = PathOf(expectedRoot, t, file);
            var actual = PathOf(actualRoot, t, file);
            Assert.True(File.Exists(actual), $"missing {actual}");
            var a = File.ReadAllBytes(expected);
            var b = File.ReadAllBytes(actual);
            Assert.True(a.Length == b.Length, $"{file.PathString}: {b.Length} bytes, expected {a.Length}");
            int diff = a.AsSpan().CommonPrefixLength(b);
            Assert.True(diff == a.Length, $"{file.PathString}: first difference at byte {diff}");
        }
    }

    /// <summary>
    /// Asserts every file of block-image torrent <paramref name="t"/> under <paramref name="root"/>
    /// (ROOT/NAME/&lt;hex32&gt;, as a standard client stores it) equals the image's bytes at its offset.
    /// </summary>
    public static void AssertFilesMatchImage(Torrent t, string image, string root)
    {
        using var src = new FileStream(image, FileMode.Open, FileAccess.Read);
        foreach (var file in t.Files)
        {
            Assert.True(BlockImageLayout.TryParseHexOffset(file.Path[^1], out long offset), file.PathString);
            var path = PathOf(root, t, file);
            Assert.True(File.Exists(path), $"missing {path}");
            var actual = File.ReadAllBytes(path);
            Assert.True(actual.Length == file.Length, $"{file.PathString}: {actual.Length} bytes, expected {file.Length}");
            var expected = new byte[file.Length];
            src.Position = offset;
            src.ReadExactly(expected);
            int same = expected.AsSpan().CommonPrefixLength(actual);
            Assert.True(same == expected.Length, $"{file.PathString}: first difference at byte {same} (device offset {offset + same})");
        }
    }

    /// <summary>A directory tree for a regular multi-file torrent: nested folders, odd sizes, an empty file.</summary>
    public static void WriteNestedTree(string root, int seed = 77) => ContentTree.Random(root, seed,
        ("README.txt", 1234),
        ("images/boot/vmlinuz", (5 << 20) + 17),
        ("images/boot/initrd.img", (7 << 20) + 4099),
        ("images/root/a/b/c/deep.bin", 333_333),
        ("images/root/a/empty.dat", 0),
        ("images/root/z.bin", (3 << 20) - 1),
        ("tail.bin", 1));
}
