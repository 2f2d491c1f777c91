using BlockSwarm.Devices;
using CsCheck;

namespace BlockSwarm.Devices.Tests;

/// <summary>The O_DIRECT write path's pure parts: the alignment split, the short-write loop, the bounce pool.</summary>
public sealed class DirectIOPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly Gen<(long Offset, long Length, int Alignment, int MaxDirect)> GenRun =
        from shift in Gen.Int[9, 16]
        from chunks in Gen.Int[1, 8]
        from offset in Gen.Long[0, 1L << 40]
        from length in Gen.OneOf(Gen.Long[0, 3L << shift], Gen.Long[0, 64L * (chunks << shift)])
        select (offset, length, 1 << shift, chunks << shift);

    [Fact]
    public void Split_covers_the_run_exactly_once_with_aligned_direct_parts_and_short_buffered_edges()
    {
        GenRun.Sample(r =>
        {
            var ops = new List<DirectIOPlan.Op>();
            DirectIOPlan.Split(r.Offset, r.Length, r.Alignment, r.MaxDirect, ops);
            long pos = r.Offset;
            foreach (var op in ops)
            {
                Assert.Equal(pos, op.Offset); // in order, no gap, no overlap
                Assert.True(op.Length > 0);
                if (op.Direct)
                {
                    Assert.Equal(0, op.Offset % r.Alignment);
                    Assert.Equal(0, op.Length % r.Alignment);
                    Assert.True(op.Length <= r.MaxDirect);
                }
                pos = op.End;
            }
            Assert.Equal(r.Offset + r.Length, pos); // never beyond the run
            // Every whole aligned block inside the run is written directly; only the edges go buffered.
            long firstBlock = (r.Offset + r.Alignment - 1) / r.Alignment * r.Alignment;
            long lastBlockEnd = (r.Offset + r.Length) / r.Alignment * r.Alignment;
            long direct = ops.Where(o => o.Direct).Sum(o => (long)o.Length);
            Assert.Equal(Math.Max(0, lastBlockEnd - firstBlock), direct);
            var buffered = ops.Where(o => !o.Direct).ToList();
            Assert.True(buffered.Count <= 2);
            if (direct > 0) Assert.All(buffered, b => Assert.True(b.Length < r.Alignment));
            // Direct parts are as large as the bounce buffer allows: only the last one may be shorter.
            var directs = ops.Where(o => o.Direct).ToList();
            for (int i = 0; i < directs.Count - 1; i++) Assert.Equal(r.MaxDirect, directs[i].Length);
        }, iter: 5_000);
    }

    [Theory]
    [InlineData(4096, 8192, 4096, 0, 8192, 0)]
    [InlineData(4095, 8194, 4096, 1, 8192, 1)]
    [InlineData(100, 3000, 4096, 3000, 0, 0)]
    [InlineData(4000, 4000, 4096, 4000, 0, 0)] // spans a boundary but holds no whole block
    [InlineData(1, 12286, 4096, 4095, 4096, 4095)]
    public void Split_examples(long offset, long length, int alignment, int head, long middle, int tail)
    {
        var ops = new List<DirectIOPlan.Op>();
        DirectIOPlan.Split(offset, length, alignment, 1 << 20, ops);
        var first = ops[0];
        var last = ops[^1];
        Assert.Equal(head, first.Direct ? 0 : first.Length);
        Assert.Equal(middle, ops.Where(o => o.Direct).Sum(o => (long)o.Length));
        Assert.Equal(tail, last.Direct || ops.Count == 1 ? 0 : last.Length);
    }

    [Fact]
    public unsafe void Direct_writes_retry_interrupts_and_aligned_short_counts_and_hand_back_unaligned_ones()
    {
        var buf = new byte[16384];
        fixed (byte* p = buf)
        {
            var calls = new List<(long Offset, int Length)>();
            var replies = new Queue<long>([-NativeMethods.EINTR, 4096, 8192, 4096]);
            int done = DirectIOBlockDevice.WriteDirect((b, n, o) => { calls.Add((o, n)); return replies.Dequeue(); }, "dev", p, 16384, 1 << 20, 4096);
            Assert.Equal(16384, done);
            Assert.Equal([(1 << 20, 16384), (1 << 20, 16384), ((1 << 20) + 4096, 12288), ((1 << 20) + 12288, 4096)], calls);

            // A short count off the alignment cannot continue with O_DIRECT: the caller gets the count to finish buffered.
            replies = new Queue<long>([4096 + 512]);
            Assert.Equal(4608, DirectIOBlockDevice.WriteDirect((b, n, o) => replies.Dequeue(), "dev", p, 16384, 0, 4096));
        }
    }

    [Fact]
    public unsafe void Gather_writes_continue_partial_counts_from_the_buffer_they_stopped_in()
    {
        var iov = new NativeMethods.IoVec[] { new() { Base = 0x10000, Length = 8192 }, new() { Base = 0x40000, Length = 8192 } };
        var calls = new List<(long Offset, int Count, nint FirstBase, nuint FirstLength)>();
        var replies = new Queue<long>([-NativeMethods.EINTR, 4096, 8192, 4096]);
        fixed (NativeMethods.IoVec* v = iov)
        {
            int done = DirectIOBlockDevice.WriteGather((p, n, o) => { calls.Add((o, n, p->Base, p->Length)); return replies.Dequeue(); },
                "dev", v, 2, 16384, 1 << 20, 4096, stopOnEinval: false, out bool einval);
            Assert.Equal(16384, done);
            Assert.False(einval);
        }
        Assert.Equal([(1 << 20, 2, 0x10000, 8192), (1 << 20, 2, 0x10000, 8192), ((1 << 20) + 4096, 2, 0x11000, 4096), ((1 << 20) + 12288, 1, 0x41000, 4096)],
            calls.Select(c => (c.Offset, c.Count, c.FirstBase, c.FirstLength)));

        // EINVAL, asked to stop on it: the bytes before it, and the flag; off the alignment: the count, to finish buffered.
        iov = [new() { Base = 0x10000, Length = 16384 }];
        replies = new Queue<long>([4096, -NativeMethods.EINVAL]);
        fixed (NativeMethods.IoVec* v = iov)
        {
            Assert.Equal(4096, DirectIOBlockDevice.WriteGather((p, n, o) => replies.Dequeue(), "dev", v, 1, 16384, 0, 4096, stopOnEinval: true, out bool einval));
            Assert.True(einval);
        }
        iov = [new() { Base = 0x10000, Length = 16384 }];
        fixed (NativeMethods.IoVec* v = iov)
            Assert.Equal(4608, DirectIOBlockDevice.WriteGather((p, n, o) => 4608, "dev", v, 1, 16384, 0, 4096, stopOnEinval: false, out _));
    }

    [Fact]
    public unsafe void Direct_write_errors_name_the_device_and_offset()
    {
        var buf = new byte[8192];
        fixed (byte* p = buf)
        {
            byte* ptr = p;
            var replies = new Queue<long>([4096, -28]);
            var ex = Assert.Throws<StorageException>(() => DirectIOBlockDevice.WriteDirect((b, n, o) => replies.Dequeue(), "/dev/sdz", ptr, 8192, 1 << 30, 4096));
            Assert.Contains("/dev/sdz", ex.Message);
            Assert.Contains($"offset {(1 << 30) + 4096}", ex.Message);
            Assert.Contains("errno 28", ex.Message);
            var zero = Assert.Throws<StorageException>(() => DirectIOBlockDevice.WriteDirect((b, n, o) => 0, "/dev/sdz", ptr, 8192, 0, 4096));
            Assert.Contains("wrote nothing", zero.Message);
        }
    }

    [Fact]
    public async Task Bounce_pool_hands_out_aligned_buffers_up_to_its_bound_and_takes_them_back()
    {
        using var pool = new AlignedBufferPool(1 << 16, 4096, maxBuffers: 2);
        nint a = Rent(pool);
        nint b = Rent(pool);
        Assert.Equal(0, a % 4096);
        Assert.Equal(0, b % 4096);
        Assert.Equal(2, pool.Outstanding);
        var third = Task.Run(() => Rent(pool), Ct);
        await Task.Delay(200, Ct);
        Assert.False(third.IsCompleted); // bounded: the third renter waits
        Return(pool, a);
        Assert.Equal(a, await third.WaitAsync(TimeSpan.FromSeconds(10), Ct)); // reused, not a new allocation
        Return(pool, b);
        Return(pool, a);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(2, pool.Allocated);
    }

    private static unsafe nint Rent(AlignedBufferPool pool) => (nint)pool.Rent();

    private static unsafe void Return(AlignedBufferPool pool, nint buffer) => pool.Return((byte*)buffer);

    [Theory]
    [InlineData(256L << 20, 4096, 8 << 20)]
    [InlineData(16L << 20, 4096, 1 << 20)]
    [InlineData(100_000, 4096, 4096)]
    [InlineData(1, 65536, 65536)]
    public void Bounce_buffer_is_a_sixteenth_of_the_cache_within_bounds(long cache, int alignment, int expected) =>
        Assert.Equal(expected, DirectIOBlockDevice.BounceBytesFor(cache, alignment));
}
