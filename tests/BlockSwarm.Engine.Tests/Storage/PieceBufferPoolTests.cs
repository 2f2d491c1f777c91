using BlockSwarm.Engine.Storage;

namespace BlockSwarm.Engine.Tests.Storage;

public sealed class PieceBufferPoolTests
{
    [Fact]
    public void The_last_returned_buffer_is_rented_next_and_sizes_are_exact()
    {
        var pool = new PieceBufferPool(64 << 20);
        var a = pool.Rent(4 << 20);
        var b = pool.Rent(4 << 20);
        Assert.Equal(4 << 20, a.Length);
        Assert.NotSame(a, b);
        pool.Return(a);
        pool.Return(b);
        Assert.Equal(8 << 20, pool.RetainedBytes);
        Assert.Same(b, pool.Rent(4 << 20));
        Assert.Same(a, pool.Rent(4 << 20));
        Assert.Equal(0, pool.RetainedBytes);
        // A piece of another length (the torrent's short last piece) is its own size.
        var tail = pool.Rent(300_000);
        Assert.Equal(300_000, tail.Length);
        pool.Return(tail);
        Assert.NotSame(tail, pool.Rent(4 << 20));
        Assert.Same(tail, pool.Rent(300_000));
    }

    [Fact]
    public void Retention_is_bounded_and_small_buffers_go_to_the_shared_pool()
    {
        var pool = new PieceBufferPool(5 << 20);
        var a = pool.Rent(4 << 20);
        var b = pool.Rent(4 << 20);
        pool.Return(a);
        pool.Return(b); // over the bound: left to the GC
        Assert.Equal(4 << 20, pool.RetainedBytes);
        Assert.Same(a, pool.Rent(4 << 20));
        Assert.NotSame(b, pool.Rent(4 << 20));

        var small = pool.Rent(16 << 10);
        Assert.True(small.Length >= 16 << 10);
        pool.Return(small);
        Assert.Equal(0, pool.RetainedBytes);

        var cleared = pool.Rent(1 << 20);
        cleared.AsSpan().Fill(7);
        pool.Return(cleared, clearArray: true);
        Assert.True(pool.Rent(1 << 20).AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }
}
