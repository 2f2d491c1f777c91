using BlockSwarm.Clonezilla.Serving;

namespace BlockSwarm.Clonezilla.Tests.Serving;

/// <summary>A "compressed" stream held in memory: restart points where the test says, readers that hand out short reads and count opens.</summary>
internal sealed class MemoryRestartPoints(byte[] data, long[] points, int maxRead = 100_000) : IRestartPoints
{
    private readonly byte[] _data = data;

    public int Opens { get; private set; }
    public long Read { get; private set; }

    /// <summary>Decoded bytes stop here (a truncated stream); null: the whole array.</summary>
    public long? TruncateAt { get; init; }

    public long BestAtOrBefore(long offset) => points.Where(p => p <= offset).DefaultIfEmpty(0).Max();

    public IForwardReader OpenAt(long restartOffset)
    {
        Assert.Contains(restartOffset, points.Append(0));
        Opens++;
        return new Reader(this, restartOffset);
    }

    private sealed class Reader(MemoryRestartPoints owner, long at) : IForwardReader
    {
        public int Read(Span<byte> destination)
        {
            long end = owner.TruncateAt ?? owner._data.Length;
            int n = (int)Math.Min(Math.Min(destination.Length, owner._maxRead), end - at);
            if (n <= 0) return 0;
            owner._data.AsSpan((int)at, n).CopyTo(destination);
            at += n;
            owner.Read += n;
            return n;
        }

        public void Dispose()
        {
        }
    }

    private readonly int _maxRead = maxRead;
}
