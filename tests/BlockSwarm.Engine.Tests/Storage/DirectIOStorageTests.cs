using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using CsCheck;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;
using BlockSwarm.Devices;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Tests.Storage;

/// <summary>
/// Real O_DIRECT writes through <see cref="DeviceStorage"/> (<c>--write-mode direct</c>, and the default where the
/// target takes it) to image files on a file system that supports it (the temp directory: ext4 here, not tmpfs) and to
/// loop devices, at extents that are not sector-aligned; the default's buffered fallback on tmpfs, and the opt-out.
/// </summary>
public sealed class DirectIOStorageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const byte Pattern = 0xAA;

    // Deliberately unaligned: odd starts and lengths, device-adjacent extents, a one-byte one, a sub-block one, gaps
    // inside one 4 KiB block, and one long enough for several bounce buffers.
    private static readonly Extent[] Extents =
    [
        new(1_000, 100_000), new(101_000, 60_000), new(170_001, 1), new(170_100, 700), new(172_000, 5_000),
        new(400_000, 123_457), new(1_000_000, 40_000), new(1_048_577, 3_000_000),
    ];

    private static string PatternFile(TempDirectory dir, long size, string name = "target.img")
    {
        string path = dir.File(name);
        using var f = File.Create(path);
        var block = new byte[1 << 20];
        Array.Fill(block, Pattern);
        for (long pos = 0; pos < size; pos += block.Length) f.Write(block, 0, (int)Math.Min(block.Length, size - pos));
        return path;
    }

    /// <summary>Every extent holds its part of the stream; every byte outside the extents still holds the pattern.</summary>
    private static void AssertImage(byte[] image, IReadOnlyList<Extent> extents, byte[] stream)
    {
        var inside = new bool[image.Length];
        long pos = 0;
        foreach (var e in extents)
        {
            Assert.True(stream.AsSpan((int)pos, (int)e.Length).SequenceEqual(image.AsSpan((int)e.Offset, (int)e.Length)), $"extent at {e.Offset} differs");
            inside.AsSpan((int)e.Offset, (int)e.Length).Fill(true);
            pos += e.Length;
        }
        for (int i = 0; i < image.Length; i++)
            if (!inside[i] && image[i] != Pattern) Assert.Fail($"byte {i} outside the extents was changed");
    }

    private static async Task<(long Direct, long Buffered, int Alignment)> FetchDirect(string path, Torrent torrent, byte[] stream, long cacheBytes, int seed)
    {
        var pool = new CountingPool();
        await using var storage = DeviceStorage.Open(path, torrent, new StorageOptions { WriteMode = WriteMode.Direct, CacheBytes = cacheBytes });
        var device = Assert.IsType<DirectIOBlockDevice>(GetDevice(storage));
        Assert.True(storage.CacheBudget <= cacheBytes - device.BounceBytes || storage.CacheBudget == 1, "the bounce buffer comes out of the cache budget");
        foreach (int p in Shuffled(torrent.PieceCount, seed))
            await storage.WritePieceAsync(p, Piece(stream, torrent, p, pool), Ct);
        await storage.FlushAsync(Ct);
        Assert.True(storage.GetDurablePieces().IsComplete);
        Assert.Equal(stream.Length, storage.BytesWritten);
        Assert.Equal(stream.Length, device.DirectBytes + device.BufferedBytes);
        Assert.Equal(0, device.BouncePool.Outstanding);
        Assert.InRange(device.BouncePool.Allocated, 0, DirectIOBlockDevice.MaxWritesInFlight);
        Assert.Equal(pool.Rents, pool.Returns);
        return (device.DirectBytes, device.BufferedBytes, device.Alignment);
    }

    private static IBlockDevice GetDevice(MappedPieceStorage storage) => storage.Device;

    /// <summary>The temp directory's file system must take O_DIRECT (ext4 and XFS do, as on CI; tmpfs has none of its own).</summary>
    private static void SkipUnlessDirectIO() => Requires.All(Need.DirectIO);

    /// <summary>Writes every piece in a shuffled order, flushes, and checks the image and that nothing was left behind.</summary>
    private static async Task WriteAll(MappedPieceStorage storage, Torrent torrent, byte[] stream, int seed)
    {
        foreach (int p in Shuffled(torrent.PieceCount, seed))
            await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
        await storage.FlushAsync(Ct);
        Assert.True(storage.GetDurablePieces().IsComplete);
    }

    [Fact]
    public async Task Direct_writes_to_an_image_file_land_bit_exact_at_unaligned_extents_and_nothing_else_changes()
    {
        using var dir = new TempDirectory("directio");
        SkipUnlessDirectIO();
        var (torrent, stream) = BlockImage(16384, Extents, 11);
        string path = PatternFile(dir, 4_200_000);
        // A small cache: several bounce-sized direct writes per run.
        var (direct, buffered, alignment) = await FetchDirect(path, torrent, stream, 1L << 20, 12);
        Assert.True(direct > stream.Length / 2, $"only {direct} of {stream.Length} bytes went direct");
        Assert.True(buffered > 0);
        Assert.Equal(0, alignment % 4096);
        AssertImage(File.ReadAllBytes(path), Extents, stream);
    }

    [Fact]
    public async Task Random_unaligned_layouts_written_directly_match_a_model()
    {
        using var dir = new TempDirectory("directio-prop");
        SkipUnlessDirectIO();
        var genLayout = Gen.Int[1, 12].SelectMany(n => Gen.Select(Gen.Int[0, 9000].Array[n], Gen.Int[1, 70_000].Array[n]));
        int run = 0;
        await genLayout.SampleAsync(async layout =>
        {
            var (gaps, lengths) = layout;
            var extents = new List<Extent>();
            long pos = 0;
            for (int i = 0; i < gaps.Length; i++)
            {
                pos += gaps[i];
                extents.Add(new Extent(pos, lengths[i]));
                pos += lengths[i];
            }
            int n = Interlocked.Increment(ref run);
            var (torrent, stream) = BlockImage(16384, extents, n);
            string path = PatternFile(dir, pos + gaps[0], $"t{n}.img");
            await FetchDirect(path, torrent, stream, 64 << 10, n);
            AssertImage(File.ReadAllBytes(path), extents, stream);
            File.Delete(path);
        }, iter: 25);
    }

    [Theory]
    [Requires(Need.Root, Need.LoopDevice)]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Direct_writes_to_a_loop_device_land_bit_exact_at_unaligned_extents_and_nothing_else_changes(int sectorSize)
    {
        using var dir = new TempDirectory("directio-loop");
        var (torrent, stream) = BlockImage(16384, Extents, 21);
        string image = PatternFile(dir, 8L << 20);
        using var loop = LoopDevice.Attach(image, sectorSize: sectorSize);
        var (direct, _, alignment) = await FetchDirect(loop.Path, torrent, stream, 2L << 20, 22);
        Assert.True(direct > stream.Length / 2);
        Assert.Equal(Math.Max(sectorSize, Environment.SystemPageSize), alignment);
        var back = new byte[8L << 20];
        using (var dev = DeviceFile.OpenRead(loop.Path))
        {
            Assert.True(dev.IsBlockDevice);
            dev.ReadExactly(0, back);
        }
        AssertImage(back, Extents, stream);
    }

    [Fact]
    public async Task Seeding_reads_after_direct_writes_see_the_new_data()
    {
        using var dir = new TempDirectory("directio-read");
        SkipUnlessDirectIO();
        var (torrent, stream) = BlockImage(16384, Extents, 31);
        string path = PatternFile(dir, 4_200_000);
        // Warm the page cache with the old pattern first: the direct writes must not leave it stale.
        _ = File.ReadAllBytes(path);
        await using var storage = DeviceStorage.Open(path, torrent, new StorageOptions { WriteMode = WriteMode.Direct, ReadCacheBytes = 0 });
        foreach (int p in Shuffled(torrent.PieceCount, 32))
            await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
        await storage.FlushAsync(Ct);
        var back = new byte[stream.Length];
        for (int p = 0; p < torrent.PieceCount; p++)
        {
            int len = torrent.GetPieceLength(p);
            await storage.ReadAsync(p, 0, back.AsMemory(p * 16384, len), Ct);
        }
        Assert.Equal(stream, back);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice, "mkfs.ext4")]
    public async Task A_file_system_without_O_DIRECT_is_refused_at_open_with_a_hint_and_written_buffered_by_default()
    {
        // ext4 with data=journal journals file data and says so through statx (STATX_DIOALIGN of 0): O_DIRECT would
        // silently be buffered there, so an explicit direct open fails instead.
        using var dir = new TempDirectory("directio-refuse");
        string fs = FsImage.Ext4(dir.File("fs.img"), 32 << 20);
        string mnt = Directory.CreateDirectory(dir.File("mnt")).FullName;
        var mount = Tool.Run("mount", ["-o", "loop,data=journal", fs, mnt], check: false);
        Requires.That(mount.ExitCode == 0, $"cannot loop-mount ext4 with data=journal: {mount.StdErr.Trim()}");
        try
        {
            var (torrent, _) = BlockImage(16384, Extents, 41);
            string path = Path.Combine(mnt, "target.img");
            var ex = await Assert.ThrowsAsync<StorageException>(async () =>
            {
                await using var s = DeviceStorage.CreateImage(path, torrent, options: new StorageOptions { WriteMode = WriteMode.Direct });
            });
            Assert.Contains(path, ex.Message);
            Assert.Contains("--write-mode", ex.Message);
            // The default writes the same target buffered, and says why in one warning.
            var logs = new RecordingLoggerFactory();
            await using var ok = DeviceStorage.CreateImage(path, torrent, options: new StorageOptions { LoggerFactory = logs });
            Assert.IsType<DeviceFileBlockDevice>(GetDevice(ok));
            var line = Assert.Single(logs.Entries);
            Assert.Equal(("WritingBuffered", LogLevel.Warning), (line.EventId.Name, line.Level));
            Assert.Contains(path, line.Message);
            Assert.Contains("statx", line.Message);
        }
        finally
        {
            Tool.Run("umount", mnt);
        }
    }

    [Fact]
    public async Task Pieces_from_the_piece_pool_are_written_straight_from_their_buffers()
    {
        SkipUnlessDirectIO();
        using var dir = new TempDirectory("directio-zero-copy");
        // Page-aligned extents, as a file system of 4 KiB blocks gives: every piece slice is aligned on the device.
        Extent[] extents = [new(4096, 1 << 20), new(2 << 20, 3 << 20), new(6 << 20, 192 << 10)];
        var (torrent, stream) = BlockImage(64 << 10, extents, 101);
        string path = PatternFile(dir, 7 << 20);
        var memory = PieceMemory.Split(8 << 20, torrent.PieceLength);
        await using (var storage = DeviceStorage.Open(path, torrent, new StorageOptions { WriteMode = WriteMode.Direct, Memory = memory }))
        {
            var device = Assert.IsType<DirectIOBlockDevice>(GetDevice(storage));
            foreach (int p in Shuffled(torrent.PieceCount, 102))
            {
                var buffer = new PooledPieceBuffer(torrent.GetPieceLength(p), memory.Buffers);
                stream.AsSpan(p * torrent.PieceLength, torrent.GetPieceLength(p)).CopyTo(buffer.Span);
                await storage.WritePieceAsync(p, buffer, Ct);
            }
            await storage.FlushAsync(Ct);
            Assert.Equal((stream.Length, stream.Length, 0L), (device.ZeroCopyBytes, device.DirectBytes, device.BufferedBytes));
            Assert.Equal(0, device.BouncePool.Allocated); // no copy, so no bounce buffer was ever needed
        }
        AssertImage(File.ReadAllBytes(path), extents, stream);
    }

    [Fact]
    public async Task The_default_writes_an_image_file_on_a_disk_file_system_with_O_DIRECT_bit_exact()
    {
        SkipUnlessDirectIO();
        using var dir = new TempDirectory("directio-default");
        var (torrent, stream) = BlockImage(16384, Extents, 61);
        var logs = new RecordingLoggerFactory();
        string path = dir.File("new.img");
        await using (var storage = DeviceStorage.CreateImage(path, torrent, options: new StorageOptions { LoggerFactory = logs }))
        {
            var device = Assert.IsType<DirectIOBlockDevice>(GetDevice(storage));
            await WriteAll(storage, torrent, stream, 62);
            Assert.True(device.DirectBytes > stream.Length / 2, $"only {device.DirectBytes} of {stream.Length} bytes went direct");
        }
        var line = Assert.Single(logs.Entries);
        Assert.Equal(("WritingDirect", LogLevel.Debug), (line.EventId.Name, line.Level));
        Assert.Contains(path, line.Message);
        var back = File.ReadAllBytes(path); // a new (sparse) image: the extents hold the stream
        long pos = 0;
        foreach (var e in Extents)
        {
            Assert.True(stream.AsSpan((int)pos, (int)e.Length).SequenceEqual(back.AsSpan((int)e.Offset, (int)e.Length)), $"extent at {e.Offset} differs");
            pos += e.Length;
        }
    }

    [Fact]
    public async Task The_default_writes_a_tmpfs_file_buffered_bit_exact_and_says_why_once()
    {
        using var dir = TempDirectory.OnTmpfs("directio-tmpfs");
        var (torrent, stream) = BlockImage(16384, Extents, 71);
        string path = PatternFile(dir, 4_200_000);
        var logs = new RecordingLoggerFactory();
        await using (var storage = DeviceStorage.Open(path, torrent, new StorageOptions { LoggerFactory = logs }))
        {
            Assert.IsType<DeviceFileBlockDevice>(GetDevice(storage));
            await WriteAll(storage, torrent, stream, 72);
        }
        AssertImage(File.ReadAllBytes(path), Extents, stream);
        // One line, not a warning: buffered is the right way to write memory.
        var line = Assert.Single(logs.Entries);
        Assert.Equal(("WritingBuffered", LogLevel.Information), (line.EventId.Name, line.Level));
        Assert.Contains(path, line.Message);
        Assert.Contains("tmpfs keeps files in memory", line.Message);
    }

    [Fact]
    public async Task Direct_on_tmpfs_fails_at_open_naming_the_file_and_why()
    {
        using var dir = TempDirectory.OnTmpfs("directio-tmpfs-strict");
        var (torrent, _) = BlockImage(16384, Extents, 81);
        string path = dir.File("new.img");
        var ex = await Assert.ThrowsAsync<StorageException>(async () =>
        {
            await using var s = DeviceStorage.CreateImage(path, torrent, options: new StorageOptions { WriteMode = WriteMode.Direct });
        });
        Assert.Equal($"{path}: cannot write with O_DIRECT: tmpfs keeps files in memory, so there is no page cache to bypass; "
            + "write it through the page cache instead (--write-mode auto or buffered)", ex.Message);
    }

    [Fact]
    public async Task Buffered_writes_through_the_page_cache_where_O_DIRECT_would_work()
    {
        SkipUnlessDirectIO();
        using var dir = new TempDirectory("directio-buffered");
        var (torrent, stream) = BlockImage(16384, Extents, 91);
        string path = PatternFile(dir, 4_200_000);
        var logs = new RecordingLoggerFactory();
        await using (var storage = DeviceStorage.Open(path, torrent, new StorageOptions { WriteMode = WriteMode.Buffered, LoggerFactory = logs, CacheBytes = 1 << 20 }))
        {
            Assert.IsType<DeviceFileBlockDevice>(GetDevice(storage));
            Assert.Equal(1 << 20, storage.CacheBudget); // no bounce buffer taken out of it
            await WriteAll(storage, torrent, stream, 92);
        }
        AssertImage(File.ReadAllBytes(path), Extents, stream);
        Assert.Empty(logs.Entries);
    }

    [Fact]
    public async Task Reading_storage_ignores_the_option()
    {
        using var dir = new TempDirectory("directio-ro");
        var (torrent, _) = BlockImage(16384, Extents, 51);
        string path = PatternFile(dir, 4_200_000);
        await using var storage = DeviceStorage.Open(path, torrent, new StorageOptions { WriteMode = WriteMode.Direct }, writable: false);
        Assert.IsType<DeviceFileBlockDevice>(GetDevice(storage));
    }
}
