namespace BlockSwarm.Ezio.Tests;

/// <summary>
/// The daemon's garbage guard asks for a young collection every 8 MiB allocated, and a full one once a quarter of the
/// cache (at least 16 MiB) was allocated since the last.
/// </summary>
public sealed class GarbageGuardTests
{
    [Fact]
    public void Large_garbage_past_a_quarter_of_the_cache_gets_a_full_collection()
    {
        Assert.Equal(16L << 20, new GarbageGuard(32L << 20, Timeout.InfiniteTimeSpan).ThresholdBytes);
        using var guard = new GarbageGuard(64L << 20, Timeout.InfiniteTimeSpan);
        Assert.Equal(16L << 20, guard.ThresholdBytes);
        Assert.Equal(1L << 30, new GarbageGuard(4L << 30, Timeout.InfiniteTimeSpan).ThresholdBytes);
        // 8 MiB arrays dropped at once (large objects: only a full collection frees them), as the transfer drops piece
        // buffers. A full collection the GC starts on its own resets the count, so keep going until the guard asks.
        int full = GC.CollectionCount(2);
        for (int i = 0; i < 200 && guard.Induced == 0; i++)
        {
            GC.KeepAlive(new byte[8 << 20]);
            guard.Check();
        }
        Assert.True(guard.Induced >= 1, "no full collection asked for after 1.6 GB of large garbage");
        Assert.True(GC.CollectionCount(2) > full);
    }

    [Fact]
    public void Small_garbage_gets_young_collections_every_8_MiB()
    {
        using var guard = new GarbageGuard(1L << 30, Timeout.InfiniteTimeSpan);
        int any = GC.CollectionCount(0);
        // Short-lived small objects, as messages and async state are: 64 KiB at a time, never a full collection's worth.
        for (int i = 0; i < 2000 && guard.InducedYoung == 0; i++)
        {
            for (int k = 0; k < 16; k++) GC.KeepAlive(new byte[4000]);
            guard.Check();
        }
        Assert.True(guard.InducedYoung >= 1, "no young collection asked for after 128 MB of small garbage");
        Assert.True(GC.CollectionCount(0) > any);
    }
}
