using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Storage;

public sealed class FileStorageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const int PieceLength = 16384;

    private static (Torrent, byte[]) MultiFile(params (string[] Path, long Length)[] files)
    {
        var data = new byte[files.Sum(f => f.Length)];
        new Random(1).NextBytes(data);
        var b = new TorrentBuilder("release", PieceLength) { PieceHashes = Hashes(data, PieceLength) };
        foreach (var (path, len) in files) b.AddFile(path, len);
        return (b.Build(), data);
    }

    [Fact]
    public async Task Multi_file_round_trip_writes_each_file_in_place()
    {
        using var dir = new TempDirectory("files");
        // Files straddling pieces, an empty file, nested directories, a file smaller than a block.
        var (torrent, stream) = MultiFile((["a.bin"], 20_000), (["empty"], 0), (["sub", "b.bin"], 40_001), (["sub", "deep", "c"], 7), (["d.bin"], 33_333));
        await using (var storage = FileStorage.Open(dir.Path, torrent))
        {
            foreach (int p in Shuffled(torrent.PieceCount, 2)) await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
            await storage.FlushAsync(Ct);
        }
        foreach (var f in torrent.Files)
        {
            var bytes = File.ReadAllBytes(Path.Combine([dir.Path, "release", .. f.Path]));
            Assert.True(bytes.AsSpan().SequenceEqual(stream.AsSpan((int)f.StreamOffset, (int)f.Length)), f.PathString);
        }
        await using (var seed = FileStorage.Open(dir.Path, torrent, writable: false))
        {
            Assert.Equal(stream, await DeviceStorageTests.ReadAll(seed, torrent));
            Assert.Equal(Enumerable.Range(0, torrent.PieceCount), Enumerable.Range(0, torrent.PieceCount)
                .Where(i => PieceRecovery.Rehash(seed, torrent, cancellationToken: Ct)[i]));
        }
    }

    [Fact]
    public async Task Single_file_torrent_is_dir_slash_name()
    {
        using var dir = new TempDirectory("files");
        var data = new byte[50_000];
        new Random(3).NextBytes(data);
        var torrent = new TorrentBuilder("disk.img", PieceLength) { PieceHashes = Hashes(data, PieceLength), ForceMultiFile = false }
            .AddFile(["disk.img"], data.Length).Build();
        await using (var storage = FileStorage.Open(dir.Path, torrent))
            for (int p = 0; p < torrent.PieceCount; p++) await storage.WritePieceAsync(p, Piece(data, torrent, p), Ct);
        Assert.Equal(data, File.ReadAllBytes(dir.File("disk.img")));
    }

    [Fact]
    public void Seeding_refuses_missing_or_wrong_sized_files()
    {
        using var dir = new TempDirectory("files");
        var (torrent, _) = MultiFile((["a.bin"], 20_000), (["b.bin"], 1000));
        Assert.Throws<StorageException>(() => FileStorage.Open(dir.Path, torrent, writable: false));
        Directory.CreateDirectory(dir.File("release"));
        File.WriteAllBytes(dir.File("release/a.bin"), new byte[20_000]);
        File.WriteAllBytes(dir.File("release/b.bin"), new byte[999]);
        var ex = Assert.Throws<StorageException>(() => FileStorage.Open(dir.Path, torrent, writable: false));
        Assert.Contains("999", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    [InlineData("a/../../etc")]
    [InlineData("/etc")]
    [InlineData("x\0y")]
    public void Unsafe_components_are_refused(string component)
    {
        using var dir = new TempDirectory("files");
        Assert.Throws<StorageException>(() => FileStorage.ResolvePath(dir.Path, ["release", component, "f"]));
    }

    [Fact]
    public void A_symlink_out_of_the_directory_is_refused()
    {
        using var dir = new TempDirectory("files");
        using var outside = new TempDirectory("outside");
        Directory.CreateSymbolicLink(dir.File("release"), outside.Path);
        var (torrent, _) = MultiFile((["a.bin"], 20_000));
        var ex = Assert.Throws<StorageException>(() => FileStorage.Open(dir.Path, torrent));
        Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(outside.Path));
    }
}
