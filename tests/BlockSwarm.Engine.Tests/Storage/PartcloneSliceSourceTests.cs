using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Storage;

public sealed class PartcloneSliceSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    [Requires("partclone.extfs", "mkfs.ext4")]
    public async Task Reads_from_a_partclone_T_directory_equal_the_image_bytes()
    {
        using var dir = new TempDirectory("partclone");
        string img = FsImage.Ext4(dir.File("fs.img"), 16 << 20);
        string outDir = dir.File("out");
        Tool.Run("partclone.extfs", "-c", "-T", "-s", img, "-O", outDir);

        // The torrent a converter would build: one file per run, named by device offset.
        var runs = Directory.GetFiles(outDir).Select(Path.GetFileName)
            .Where(n => BlockImageLayout.TryParseHexOffset(n!, out _)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(runs);
        var extents = runs.Select(n =>
        {
            Assert.True(BlockImageLayout.TryParseHexOffset(n!, out long off));
            return new Extent(off, new FileInfo(Path.Combine(outDir, n!)).Length);
        }).ToList();
        var image = File.ReadAllBytes(img);
        var stream = extents.SelectMany(e => image.AsSpan((int)e.Offset, (int)e.Length).ToArray()).ToArray();
        const int pl = 256 << 10;
        var b = new TorrentBuilder("fs", pl) { PieceHashes = StorageTestKit.Hashes(stream, pl) };
        foreach (var (n, e) in runs.Zip(extents)) b.AddFile([n!], e.Length);
        var torrent = b.Build();

        await using var source = PartcloneSliceSource.Open(outDir, torrent);
        Assert.False(source.IsWritable);
        Assert.Equal(stream, await DeviceStorageTests.ReadAll(source, torrent));
        Assert.True(PieceRecovery.Rehash(source, torrent, cancellationToken: Ct).IsComplete);
        using var buf = new PooledPieceBuffer(torrent.GetPieceLength(0));
        await Assert.ThrowsAsync<NotSupportedException>(() => source.WritePieceAsync(0, buf, Ct).AsTask());
    }
}
