using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Storage;

public sealed class DeviceStorageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const int PieceLength = 16384;

    // Unaligned extents, two of them device-adjacent, a one-byte one, and a gap before each.
    private static readonly Extent[] Extents =
    [
        new(4096, 100_000), new(104_096, 60_000), new(300_001, 1), new(400_000, 123_457), new(1_000_000, 40_000),
    ];

    private static (string Path, DeviceFile File) PatternImage(TempDirectory dir, long size)
    {
        string path = dir.File("target.img");
        var fill = new byte[size];
        Array.Fill(fill, (byte)0xAA);
        File.WriteAllBytes(path, fill);
        return (path, DeviceFile.OpenReadWrite(path));
    }

    [Fact]
    public async Task Pieces_written_in_random_order_land_at_their_extents_and_nothing_else_changes()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, Extents, 1);
        var (path, file) = PatternImage(dir, 1_200_000);
        var pool = new CountingPool();
        await using (var storage = new DeviceStorage(new DeviceFileBlockDevice(file), BlockImageLayout.Create(torrent, file.Size)))
        {
            foreach (int p in Shuffled(torrent.PieceCount, 7))
                await storage.WritePieceAsync(p, Piece(stream, torrent, p, pool), Ct);
            await storage.FlushAsync(Ct);
            Assert.True(storage.GetDurablePieces().IsComplete);
            Assert.Equal(stream.Length, storage.BytesWritten);
        }
        Assert.Equal(pool.Rents, pool.Returns);

        var image = File.ReadAllBytes(path);
        var inside = new bool[image.Length];
        long pos = 0;
        foreach (var e in Extents)
        {
            Assert.Equal(stream.AsSpan((int)pos, (int)e.Length), image.AsSpan((int)e.Offset, (int)e.Length));
            inside.AsSpan((int)e.Offset, (int)e.Length).Fill(true);
            pos += e.Length;
        }
        for (int i = 0; i < image.Length; i++)
            if (!inside[i]) Assert.True(image[i] == 0xAA, $"byte {i} outside the extents was changed");
    }

    [Fact]
    public async Task Queued_pieces_are_sorted_and_merged_into_few_gather_writes()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 64L * PieceLength)], 2);
        var (_, file) = PatternImage(dir, 64L * PieceLength);
        var device = new FakeDevice(new DeviceFileBlockDevice(file));
        await using var storage = new DeviceStorage(device, BlockImageLayout.Create(torrent, file.Size));
        device.Gate.Reset();
        var order = Shuffled(torrent.PieceCount, 3);
        // The writer takes the first piece alone and blocks at the gate; the rest queue up.
        await storage.WritePieceAsync(order[0], Piece(stream, torrent, order[0]), Ct);
        Assert.True(device.WriteEntered.Wait(TimeSpan.FromSeconds(10), Ct));
        foreach (int p in order[1..]) await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
        device.Gate.Set();
        await storage.FlushAsync(Ct);
        // 64 pieces in random order: one write for the first, then the 63 others, which are
        // device-adjacent except around the first piece's hole: at most 3 runs.
        Assert.InRange(device.Writes, 2, 3);
        Assert.Equal(device.Writes, storage.WriteCalls);
        Assert.True(device.Log.Max(l => l.Segments) >= 31);
        Assert.Equal(stream, await ReadAll(storage, torrent));
    }

    [Fact]
    public async Task A_full_cache_holds_back_the_next_write_until_the_writer_drains()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 8L * PieceLength)], 4);
        var (_, file) = PatternImage(dir, 8L * PieceLength);
        var device = new FakeDevice(new DeviceFileBlockDevice(file));
        var pool = new CountingPool();
        await using var storage = new DeviceStorage(device, BlockImageLayout.Create(torrent, file.Size),
            new StorageOptions { CacheBytes = 2 * PieceLength, ReadCacheBytes = 0 });
        device.Gate.Reset();
        await storage.WritePieceAsync(0, Piece(stream, torrent, 0, pool), Ct);
        await storage.WritePieceAsync(1, Piece(stream, torrent, 1, pool), Ct);
        var third = storage.WritePieceAsync(2, Piece(stream, torrent, 2, pool), Ct).AsTask();
        var space = storage.WaitForCacheSpaceAsync(PieceLength, Ct).AsTask();
        await Task.Delay(200, Ct);
        Assert.False(third.IsCompleted, "the write was accepted although the cache was full");
        Assert.False(space.IsCompleted);
        // Queued pieces can be read back (and announced) before they reach the device.
        var back = new byte[PieceLength];
        await storage.ReadAsync(1, 0, back, Ct);
        Assert.True(back.AsSpan().SequenceEqual(stream.AsSpan(PieceLength, PieceLength)));
        device.Gate.Set();
        await third.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await space.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await storage.FlushAsync(Ct);
        Assert.Equal(0, storage.PendingWriteBytes);
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public async Task Cancelling_a_write_waiting_for_cache_space_returns_its_buffer()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 4L * PieceLength)], 5);
        var (_, file) = PatternImage(dir, 4L * PieceLength);
        var device = new FakeDevice(new DeviceFileBlockDevice(file));
        var pool = new CountingPool();
        await using var storage = new DeviceStorage(device, BlockImageLayout.Create(torrent, file.Size), new StorageOptions { CacheBytes = PieceLength });
        device.Gate.Reset();
        await storage.WritePieceAsync(0, Piece(stream, torrent, 0, pool), Ct);
        using var cts = new CancellationTokenSource(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => storage.WritePieceAsync(1, Piece(stream, torrent, 1, pool), cts.Token).AsTask());
        device.Gate.Set();
        await storage.FlushAsync(Ct);
        Assert.Equal(pool.Rents, pool.Returns);
        Assert.False(storage.GetDurablePieces()[1]);
    }

    [Fact]
    public async Task A_failed_write_stops_the_storage_with_a_clear_error_and_the_resume_file_stays_consistent()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 16L * PieceLength)], 6);
        var (path, file) = PatternImage(dir, 16L * PieceLength);
        var device = new FakeDevice(new DeviceFileBlockDevice(file)) { FailAtWrite = 2 };
        var pool = new CountingPool();
        string resume = ResumeFile.DefaultPathFor(path);
        var storage = new DeviceStorage(device, BlockImageLayout.Create(torrent, file.Size));
        await storage.WritePieceAsync(3, Piece(stream, torrent, 3, pool), Ct);
        var saved = await ResumeFile.CheckpointAsync(storage, resume, torrent, Ct);
        Assert.Equal([3], Enumerable.Range(0, 16).Where(i => saved[i]));

        // Writes wait until all four are queued: the failing write must not fault the storage before the last is handed over.
        device.Gate.Reset();
        for (int p = 4; p < 8; p++) await storage.WritePieceAsync(p, Piece(stream, torrent, p, pool), Ct);
        device.Gate.Set();
        var ex = await Assert.ThrowsAsync<StorageException>(() => ResumeFile.CheckpointAsync(storage, resume, torrent, Ct).AsTask());
        Assert.Contains("No space left on device", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Same(ex, storage.Fault);
        await Assert.ThrowsAsync<StorageException>(() => storage.WritePieceAsync(9, Piece(stream, torrent, 9, pool), Ct).AsTask());
        await storage.DisposeAsync();
        Assert.Equal(pool.Rents, pool.Returns);
        // The resume file still claims only the piece that was fsynced.
        var loaded = ResumeFile.TryLoad(resume, torrent, out _);
        Assert.NotNull(loaded);
        Assert.Equal(1, loaded.Count);
        Assert.True(loaded[3]);
    }

    [Fact]
    public async Task A_fault_never_reported_to_a_caller_is_thrown_by_dispose()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 2L * PieceLength)], 8);
        var (_, file) = PatternImage(dir, 2L * PieceLength);
        var storage = new DeviceStorage(new FakeDevice(new DeviceFileBlockDevice(file)) { FailAtWrite = 1, FailMessage = "Input/output error" },
            BlockImageLayout.Create(torrent, file.Size));
        await storage.WritePieceAsync(0, Piece(stream, torrent, 0), Ct);
        var ex = await Assert.ThrowsAsync<StorageException>(() => storage.DisposeAsync().AsTask());
        Assert.Contains("Input/output error", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Requires(Need.Root)] // mounts a tmpfs
    public async Task A_full_filesystem_gives_ENOSPC_as_a_storage_error()
    {
        using var dir = new TempDirectory("enospc");
        string mnt = Path.Combine(dir.Path, "mnt");
        Directory.CreateDirectory(mnt);
        Tool.Run("mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", mnt);
        try
        {
            var (torrent, stream) = BlockImage(PieceLength, [new Extent(0, 256L * PieceLength)], 9);
            // CreateImage reserves the extents (fallocate): a 4 MiB image on a 1 MiB filesystem fails up front.
            var early = Assert.Throws<StorageException>(() => DeviceStorage.CreateImage(Path.Combine(mnt, "t.img"), torrent));
            Assert.Contains("space", early.Message, StringComparison.OrdinalIgnoreCase);
            File.Delete(Path.Combine(mnt, "t.img"));
            // Without the reservation (a file system without fallocate), the writes run out of space part way.
            var file = DeviceFile.CreateImage(Path.Combine(mnt, "u.img"), 256L * PieceLength);
            await using var storage = new DeviceStorage(new DeviceFileBlockDevice(file), BlockImageLayout.Create(torrent, file.Size));
            var ex = await Assert.ThrowsAsync<StorageException>(async () =>
            {
                for (int p = 0; p < torrent.PieceCount; p++) await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
                await storage.FlushAsync(Ct);
            });
            Assert.Contains("space", ex.Message, StringComparison.OrdinalIgnoreCase);
            Assert.False(storage.GetDurablePieces().IsComplete);
        }
        finally
        {
            Tool.Run("umount", mnt);
        }
    }

    /// <summary>A pattern image with all 10 pieces of a block-image torrent written and flushed: a seeder's source.</summary>
    private static async Task<(Torrent Torrent, byte[] Stream, string Path)> WrittenImageAsync(TempDirectory dir)
    {
        var (torrent, stream) = BlockImage(PieceLength, Extents, 10);
        var (path, file) = PatternImage(dir, 1_200_000);
        await using (var w = new DeviceStorage(new DeviceFileBlockDevice(file), BlockImageLayout.Create(torrent, file.Size)))
        {
            for (int p = 0; p < torrent.PieceCount; p++) await w.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
            await w.FlushAsync(Ct);
        }
        return (torrent, stream, path);
    }

    [Fact]
    public async Task Leased_blocks_equal_reads_pins_beyond_the_budget_are_read_directly_and_every_cache_buffer_comes_back()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream, path) = await WrittenImageAsync(dir);
        var pool = new CountingPool();
        // A cache of two pieces: leases outlive evictions while other pieces stream through.
        await using (var seed = DeviceStorage.Open(path, torrent, new StorageOptions { Pool = pool, ReadCacheBytes = 2L * PieceLength }, writable: false))
        {
            var held = new List<System.Buffers.IMemoryOwner<byte>>();
            var block = new byte[4096];
            int direct = 0;
            for (int p = 0; p < torrent.PieceCount; p++)
                for (int off = 0; off < torrent.GetPieceLength(p); off += 4096)
                {
                    int n = Math.Min(4096, torrent.GetPieceLength(p) - off);
                    var lease = await seed.TryLeaseAsync(p, off, n, Ct);
                    if (lease is null)
                    {
                        // The two pieces the cache may hold are pinned: no third is filled, the block is read directly.
                        Assert.True(held.Count >= 2, $"piece {p} offset {off}: no lease with {held.Count} pieces pinned");
                        await seed.ReadAsync(p, off, block.AsMemory(0, n), Ct);
                        Assert.True(block.AsSpan(0, n).SequenceEqual(stream.AsSpan(p * PieceLength + off, n)), $"piece {p} offset {off}");
                        direct++;
                        continue;
                    }
                    Assert.True(lease.Memory.Span.SequenceEqual(stream.AsSpan(p * PieceLength + off, n)), $"piece {p} offset {off}");
                    if (off == 0 && held.Count < 2) held.Add(lease);
                    else lease.Dispose();
                }
            Assert.True(direct > 0);
            foreach (var l in held)
            {
                l.Dispose();
                l.Dispose(); // twice: still released once
            }
            // Unpinned again: the next miss evicts them and is cached.
            var again = await seed.TryLeaseAsync(0, 0, 1, Ct);
            Assert.NotNull(again);
            again.Dispose();
        }
        Assert.Equal(pool.Rents, pool.Returns);
        // Pinned or not, the cache never held more than its two pieces.
        Assert.True(pool.MaxOutstandingBytes <= 2L * PieceLength, $"{pool.MaxOutstandingBytes} bytes rented for a cache of {2 * PieceLength}");
    }

    [Fact]
    public async Task A_read_cache_of_one_piece_is_off_blocks_are_read_directly_and_no_piece_buffer_is_rented()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream, path) = await WrittenImageAsync(dir);
        var pool = new CountingPool();
        // One piece of cache: two peers reading different pieces would refill it for every block (issue 15's EZIO client
        // with --cache-size 64 and 16 MiB pieces churned hundreds of MiB of large arrays that way).
        await using (var seed = DeviceStorage.Open(path, torrent, new StorageOptions { Pool = pool, ReadCacheBytes = PieceLength }, writable: false))
        {
            var block = new byte[4096];
            for (int p = 0; p < torrent.PieceCount; p++)
            {
                Assert.Null(await seed.TryLeaseAsync(p, 0, 4096, Ct));
                await seed.ReadAsync(p, 0, block, Ct);
                Assert.True(block.AsSpan().SequenceEqual(stream.AsSpan(p * PieceLength, 4096)), $"piece {p}");
            }
            Assert.Equal(0, seed.ReadCacheMisses + seed.ReadCacheHits);
        }
        Assert.Equal(0, pool.Rents);
    }

    [Fact]
    public async Task Seeder_reads_go_through_the_read_ahead_cache()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, stream, path) = await WrittenImageAsync(dir);
        var pool = new CountingPool();
        await using (var seed = DeviceStorage.Open(path, torrent, new StorageOptions { Pool = pool, ReadCacheBytes = 8L << 20 }, writable: false))
        {
            Assert.False(seed.IsWritable);
            // 8 peers reading every 4 KiB block of every piece concurrently.
            await Parallel.ForAsync(0, 8, Ct, async (peer, ct) =>
            {
                var block = new byte[4096];
                foreach (int p in Shuffled(torrent.PieceCount, peer))
                    for (int off = 0; off < torrent.GetPieceLength(p); off += block.Length)
                    {
                        int n = Math.Min(block.Length, torrent.GetPieceLength(p) - off);
                        await seed.ReadAsync(p, off, block.AsMemory(0, n), ct);
                        Assert.True(block.AsSpan(0, n).SequenceEqual(stream.AsSpan(p * PieceLength + off, n)), $"piece {p} offset {off}");
                    }
            });
            // 20 pieces, 8 peers, ~640 requests: each piece is read from the device at most once
            // (concurrent misses wait for one fill), the rest are hits.
            Assert.InRange(seed.ReadCacheMisses, 1, torrent.PieceCount);
            Assert.True(seed.ReadCacheHits >= 8 * (stream.Length / 4096) - torrent.PieceCount, $"{seed.ReadCacheHits} hits");
        }
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public async Task Writing_far_more_than_the_cache_keeps_memory_bounded()
    {
        using var dir = new TempDirectory("storage");
        const int pl = 256 << 10;
        const long budget = 4L << 20;
        var extent = new Extent(0, 128L << 20);
        var data = new byte[pl];
        new Random(11).NextBytes(data);
        // Every piece has the same content; hashes do not matter to the storage.
        var torrent = new TorrentBuilder("image", pl) { PieceHashes = new byte[(int)(extent.Length / pl) * 20] }
            .AddFile([BlockImageLayout.FormatHexOffset(0)], extent.Length).Build();
        var pool = new CountingPool();
        await using (var storage = DeviceStorage.CreateImage(dir.File("big.img"), torrent, options: new StorageOptions { CacheBytes = budget }))
        {
            // The bound is asserted on the buffers the storage holds (counted by the pool), not on
            // process-wide GC memory, which other tests running in parallel move at will.
            for (int p = 0; p < torrent.PieceCount; p++)
            {
                var buf = new PooledPieceBuffer(pl, pool);
                data.CopyTo(buf.Span);
                await storage.WritePieceAsync(p, buf, Ct);
            }
            await storage.FlushAsync(Ct);
        }
        // The caller holds one piece while waiting for space; the storage never more than its budget.
        Assert.True(pool.MaxOutstandingBytes <= budget + pl, $"{pool.MaxOutstandingBytes} bytes of piece buffers outstanding");
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public async Task The_layout_must_fit_the_device()
    {
        using var dir = new TempDirectory("storage");
        var (torrent, _) = BlockImage(PieceLength, Extents, 12);
        var (path, file) = PatternImage(dir, 500_000);
        file.Dispose();
        var ex = Assert.Throws<StorageException>(() => DeviceStorage.Open(path, torrent));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    internal static async Task<byte[]> ReadAll(IPieceStorage storage, Torrent torrent)
    {
        var all = new byte[torrent.TotalLength];
        for (int p = 0; p < torrent.PieceCount; p++)
            await storage.ReadAsync(p, 0, all.AsMemory(p * torrent.PieceLength, torrent.GetPieceLength(p)), TestContext.Current.CancellationToken);
        return all;
    }
}
