using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.Serving;

/// <summary>
/// A partition saved by partclone: its used extents (partition-relative bytes, ascending) and the decoded stream of
/// their data, which holds the used blocks one after another in the same order. A read at a partition offset inside
/// extent k comes from the stream at the used bytes before extent k plus the offset into it. Extents of zeros (what
/// restoredisk wipes before partclone writes, where no used block lands) read as zeros.
/// </summary>
public sealed class UsedBlocksRegion : IRegionSource
{
    private readonly long[] _starts;
    private readonly long[] _ends;
    private readonly long[] _dataBefore; // -1: a zero extent
    private readonly DecodedStream _data;

    public UsedBlocksRegion(IReadOnlyList<Extent> usedExtents, DecodedStream data, IReadOnlyList<Extent>? zeroExtents = null)
    {
        ArgumentNullException.ThrowIfNull(usedExtents);
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        var all = usedExtents.Select(e => (Extent: e, Zero: false)).Concat((zeroExtents ?? []).Select(e => (Extent: e, Zero: true)))
            .OrderBy(x => x.Extent.Offset).ToArray();
        _starts = new long[all.Length];
        _ends = new long[all.Length];
        _dataBefore = new long[all.Length];
        long used = 0, lastEnd = 0;
        for (int i = 0; i < all.Length; i++)
        {
            var (e, zero) = all[i];
            if (e.Length <= 0 || e.Offset < lastEnd) throw new ArgumentException($"extent #{i} {e} is empty, overlapping or out of order", nameof(usedExtents));
            _starts[i] = e.Offset;
            _ends[i] = e.End;
            _dataBefore[i] = zero ? -1 : used;
            if (!zero) used += e.Length;
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
                throw new ArgumentOutOfRangeException(nameof(offset), $"{_data.Name}: byte {offset} of the partition is neither a used block nor wiped (the torrent never asks for it)");
            int n = (int)Math.Min(destination.Length, _ends[i] - offset);
            if (_dataBefore[i] < 0) destination[..n].Clear();
            else _data.Read(_dataBefore[i] + offset - _starts[i], destination[..n]);
            destination = destination[n..];
            offset += n;
        }
    }
}
