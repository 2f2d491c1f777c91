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
        Assert.Equal((4 << 20) + PieceBufferPool.Slack, a.Length); // room to start a piece on a page
        Assert.NotSame(a, b);
        pool.Return(a);
        pool.Return(b);
        Assert.Equal(8 << 20, pool.RetainedBytes);
        Assert.Same(b, pool.Rent(4 << 20));
        Assert.Same(a, pool.Rent(4 << 20));
        Assert.Equal(0, pool.RetainedBytes);
        // A piece of another length (the torrent's short last piece) is its own size.
        var tail = pool.Rent(300_000);
        Assert.Equal(300_000 + PieceBufferPool.Slack, tail.Length);
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
        Assert.Equal(8 << 20, pool.RentedBytes);
        pool.Return(a); // b is still in use: keeping a would make 8 MiB in use and free, over the bound
        Assert.Equal(0, pool.RetainedBytes);
        pool.Return(b);
        Assert.Equal(4 << 20, pool.RetainedBytes);
        Assert.Equal(0, pool.RentedBytes);
        Assert.Same(b, pool.Rent(4 << 20));
        Assert.NotSame(a, pool.Rent(4 << 20));

        var small = pool.Rent(16 << 10);
        Assert.True(small.Length >= 16 << 10);
        pool.Return(small);
        Assert.Equal(0, pool.RetainedBytes);

        // A cleared array comes back zeroed. (A pool with room for it: this one is over its bound with the 8 MiB still
        // rented above, so a returned array would go to the GC and the next rent would be a new, uninitialized one.)
        var roomy = new PieceBufferPool(4 << 20);
        var cleared = roomy.Rent(1 << 20);
        cleared.AsSpan().Fill(7);
        roomy.Return(cleared, clearArray: true);
        var again = roomy.Rent(1 << 20);
        Assert.Same(cleared, again);
        Assert.True(again.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Buffers_in_use_and_free_buffers_together_stay_within_the_bound_across_piece_sizes()
    {
        // Two torrents with different piece sizes share one pool: free 4 MiB buffers cannot serve 1 MiB pieces, so
        // keeping them while 1 MiB pieces fill the budget would double the memory held.
        var pool = new PieceBufferPool(8 << 20);
        var big = new[] { pool.Rent(4 << 20), pool.Rent(4 << 20) };
        foreach (var b in big) pool.Return(b);
        Assert.Equal(8 << 20, pool.RetainedBytes);
        var small = Enumerable.Range(0, 8).Select(_ => pool.Rent(1 << 20)).ToList();
        foreach (var b in small) pool.Return(b);
        Assert.True(pool.RetainedBytes + pool.RentedBytes <= 8 << 20, $"retained {pool.RetainedBytes} + rented {pool.RentedBytes}");
    }

    [Fact]
    public void A_short_last_piece_reuses_a_free_full_piece_buffer_up_to_twice_its_size()
    {
        // Clonezilla's 16 MiB pieces: a partition's last piece is shorter. It takes the free full-size buffer (the next
        // full piece would otherwise allocate a new one past the bound while the odd-sized array sits in the pool).
        var pool = new PieceBufferPool(32 << 20);
        var full = pool.Rent(16 << 20);
        pool.Return(full);
        var last = pool.Rent(9 << 20);
        Assert.Same(full, last);
        Assert.Equal((16L << 20, 0L), (pool.RentedBytes, pool.RetainedBytes));
        pool.Return(last);
        Assert.Equal((0L, 16L << 20), (pool.RentedBytes, pool.RetainedBytes));
        // Past twice the size a free buffer is not taken: a 4 MiB request does not pin 16 MiB.
        var small = pool.Rent(4 << 20);
        Assert.Equal((4 << 20) + PieceBufferPool.Slack, small.Length);
        Assert.Same(full, pool.Rent(16 << 20));
    }

    [Fact]
    public void Piece_buffers_from_the_pool_start_on_a_page_and_keep_their_exact_length()
    {
        var pool = new PieceBufferPool(64 << 20);
        foreach (int length in new[] { 4 << 20, 300_000, 1 << 16 })
        {
            using var piece = new PooledPieceBuffer(length, pool);
            Assert.Equal(length, piece.Memory.Length);
            unsafe
            {
                using var pin = piece.Memory.Pin();
                Assert.Equal(0, (nint)pin.Pointer % PieceBufferPool.Alignment);
            }
        }
        // Other pools (and small buffers) are used as they come.
        using var plain = new PooledPieceBuffer(4 << 20);
        Assert.Equal(4 << 20, plain.Memory.Length);
        Assert.Equal(0, PieceBufferPool.AlignedOffset(new byte[4 << 20], 4 << 20));
    }
}
