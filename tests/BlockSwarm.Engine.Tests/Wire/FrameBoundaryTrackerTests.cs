using System.Buffers.Binary;
using BlockSwarm.Engine.Wire;
using CsCheck;

namespace BlockSwarm.Engine.Tests.Wire;

public sealed class FrameBoundaryTrackerTests
{
    /// <summary>A handshake then frames of the given payload lengths; returns the bytes and each frame's end offset.</summary>
    private static (byte[] Bytes, List<int> Ends) Stream(int[] payloads)
    {
        var bytes = new List<byte>(new byte[FrameBoundaryTracker.HandshakeLength]);
        var ends = new List<int> { bytes.Count };
        foreach (int n in payloads)
        {
            var len = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(len, (uint)n);
            bytes.AddRange(len);
            bytes.AddRange(Enumerable.Repeat((byte)0xAB, n));
            ends.Add(bytes.Count);
        }
        return (bytes.ToArray(), ends);
    }

    [Fact]
    public void Knows_what_the_frame_in_progress_still_owes()
    {
        var (bytes, _) = Stream([16 * 1024 + 9, 5, 0]);
        var t = FrameBoundaryTracker.AfterConnect();
        Assert.Equal(68, t.BytesToFrameEnd);
        t.Advance(bytes.AsSpan(0, 68));
        Assert.Equal(0, t.BytesToFrameEnd);
        Assert.Equal(1, t.LowWaterMark(65536)); // at a boundary: any byte may be a whole small message
        t.Advance(bytes.AsSpan(68, 2)); // half a length prefix
        Assert.Equal(0, t.BytesToFrameEnd);
        t.Advance(bytes.AsSpan(70, 2 + 1448));
        Assert.Equal(16 * 1024 + 9 - 1448, t.BytesToFrameEnd);
        Assert.Equal(16 * 1024 + 9 - 1448, t.LowWaterMark(65536));
        Assert.Equal(4096, t.LowWaterMark(4096));
    }

    [Fact]
    public void Any_split_of_the_stream_gives_marks_that_never_exceed_the_bytes_still_coming()
    {
        Gen.Select(Gen.Int[0, 40_000].Array[1, 12], Gen.Int[1, 5000].Array[1, 40])
            .Sample((payloads, cuts) =>
            {
                var (bytes, ends) = Stream(payloads);
                var t = FrameBoundaryTracker.AfterConnect();
                int pos = 0, k = 0;
                while (pos < bytes.Length)
                {
                    int n = Math.Min(cuts[k++ % cuts.Length], bytes.Length - pos);
                    t.Advance(bytes.AsSpan(pos, n));
                    pos += n;
                    // The frame in progress ends at the first end beyond pos; the mark must not ask for more than that.
                    int next = ends.FirstOrDefault(e => e > pos, -1);
                    if (t.BytesToFrameEnd > 0 && (next < 0 || t.BytesToFrameEnd != next - pos)) return false;
                    if (t.LowWaterMark(1 << 20) > Math.Max(1, next < 0 ? 0 : next - pos)) return false;
                }
                return t.BytesToFrameEnd == 0;
            }, iter: 300);
    }
}
