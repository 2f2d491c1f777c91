using BlockSwarm.Clonezilla.Serving;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Clonezilla.Tests.Serving;

public sealed class DecodedStreamTests
{
    private static byte[] Data(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        return data;
    }

    [Fact]
    public void Reads_in_order_decode_every_byte_once_and_reads_within_the_window_are_copies()
    {
        var data = Data(10 << 20);
        var source = new MemoryRestartPoints(data, []);
        using var stream = new DecodedStream("sda1", data.Length, source, windowBytes: 2 << 20, NullLogger.Instance);
        var buffer = new byte[300_001];
        for (long at = 0; at + buffer.Length <= data.Length; at += buffer.Length)
        {
            stream.Read(at, buffer);
            Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan((int)at, buffer.Length)));
            // A step back inside the window is a copy, not a restart.
            if (at >= 1 << 20)
            {
                stream.Read(at - (1 << 20), buffer.AsSpan(0, 1000));
                Assert.True(buffer.AsSpan(0, 1000).SequenceEqual(data.AsSpan((int)(at - (1 << 20)), 1000)));
            }
        }
        Assert.Equal(1, stream.Restarts);
        Assert.True(stream.BytesDecoded <= data.Length, $"decoded {stream.BytesDecoded} of {data.Length}");
    }

    [Fact]
    public void A_read_behind_the_window_restarts_at_the_best_point_and_a_far_jump_ahead_uses_a_closer_one()
    {
        var data = Data(8 << 20);
        var source = new MemoryRestartPoints(data, [2 << 20, 6 << 20]);
        using var stream = new DecodedStream("sda2", data.Length, source, windowBytes: 1 << 20, NullLogger.Instance);
        var buffer = new byte[4096];
        stream.Read(5 << 20, buffer);                // from the start point 2 MiB: decodes 2..5 MiB
        Assert.Equal(1, source.Opens);
        stream.Read((7 << 20) + 5, buffer);          // 6 MiB is closer than the cursor: restart ahead
        Assert.Equal(2, source.Opens);
        Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan((7 << 20) + 5, buffer.Length)));
        stream.Read(100, buffer);                    // far behind: back to the start
        Assert.Equal(3, source.Opens);
        Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan(100, buffer.Length)));
        Assert.Equal(3, stream.Restarts);
    }

    [Fact]
    public void Pass_through_decodes_reads_at_the_cursor_straight_into_the_buffer_keeps_nothing_behind_and_still_serves_other_reads()
    {
        var data = Data(6 << 20);
        var source = new MemoryRestartPoints(data, []);
        using var stream = new DecodedStream("sda4", data.Length, source, windowBytes: 1 << 20, NullLogger.Instance) { PassThrough = true };
        var buffer = new byte[777_777];
        long at = 0;
        for (; at + buffer.Length <= 4 << 20; at += buffer.Length)
        {
            stream.Read(at, buffer);
            Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan((int)at, buffer.Length)));
        }
        Assert.Equal(at, stream.BytesDecoded);
        Assert.Equal(1, stream.Restarts);

        // A jump ahead of the cursor goes through the window as always, and the cursor follows it.
        stream.Read(at + 10, buffer.AsSpan(0, 1000));
        Assert.True(buffer.AsSpan(0, 1000).SequenceEqual(data.AsSpan((int)at + 10, 1000)));
        Assert.Equal(1, stream.Restarts);

        // Nothing passed through was kept: a step back restarts (from the start, the only point here) and reads right.
        stream.Read(at - 5000, buffer.AsSpan(0, 4000));
        Assert.True(buffer.AsSpan(0, 4000).SequenceEqual(data.AsSpan((int)at - 5000, 4000)));
        Assert.Equal(2, stream.Restarts);

        // Off again: reads behind the cursor within the window are copies once more.
        stream.PassThrough = false;
        stream.Read(5 << 20, buffer.AsSpan(0, 1000));
        stream.Read((5 << 20) - 100_000, buffer.AsSpan(0, 1000));
        Assert.True(buffer.AsSpan(0, 1000).SequenceEqual(data.AsSpan((5 << 20) - 100_000, 1000)));
        Assert.Equal(2, stream.Restarts);
    }

    [Fact]
    public void A_stream_that_ends_early_names_the_decoded_byte_and_a_read_outside_is_refused()
    {
        var data = Data(3 << 20);
        using var stream = new DecodedStream("sda3", data.Length, new MemoryRestartPoints(data, []) { TruncateAt = 1 << 20 }, 1 << 20, NullLogger.Instance);
        var ex = Assert.Throws<ClonezillaFormatException>(() => stream.Read(2 << 20, new byte[10]));
        Assert.Contains("sda3: the stream ends at decoded byte 1048576 of 3145728", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.Read(data.Length - 5, new byte[10]));
        Assert.Throws<ArgumentException>(() => stream.Read(0, new byte[(1 << 20) + 1]));
    }
}
