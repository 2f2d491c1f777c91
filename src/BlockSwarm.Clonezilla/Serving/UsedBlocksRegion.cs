using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.Serving;

/// <summary>
/// A partition saved by partclone: its used extents (partition-relative bytes, ascending) and the decoded stream of
/// their data, which holds the used blocks one after another in the same order. A read at a partition offset inside
/// extent k comes from the stream at the used bytes before extent k plus the offset into it.
/// </summary>
public sealed class UsedBlocksRegion : IRegionSource
{
    private readonly long[] _starts;
    private readonly long[] _ends;
    private readonly long[] _dataBefore;
    private readonly DecodedStream _data;

    public UsedBlocksRegion(IReadOnlyList<Extent> usedExtents, DecodedStream data)
    {
        ArgumentNullException.ThrowIfNull(usedExtents);
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _starts = new long[usedExtents.Count];
        _ends = new long[usedExtents.Count];
        _dataBefore = new long[usedExtents.Count];
        long used = 0, lastEnd = 0;
        for (int i = 0; i < usedExtents.Count; i++)
        {
            var e = usedExtents[i];
            if (e.Length <= 0 || e.Offset < lastEnd) throw new ArgumentException($"used extent #{i} {e} is empty, overlapping or out of order", nameof(usedExtents));
            _starts[i] = e.Offset;
            _ends[i] = e.End;
            _dataBefore[i] = used;
            used += e.Length;
            lastEnd = e.End;
        }
        if (used != data.Length) throw new ArgumentException($"{data.Name}: the used extents hold {used} bytes but the stream has {data.Length}", nameof(usedExtents));
    }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int i = Array.BinarySearch(_starts, offset);
            if (i < 0) i = ~i - 1;
            if (i < 0 || offset >= _ends[i])
                throw new ArgumentOutOfRangeException(nameof(offset), $"{_data.Name}: byte {offset} of the partition is not a used block (the torrent never asks for it)");
            int n = (int)Math.Min(destination.Length, _ends[i] - offset);
            _data.Read(_dataBefore[i] + offset - _starts[i], destination[..n]);
            destination = destination[n..];
            offset += n;
        }
    }
}
