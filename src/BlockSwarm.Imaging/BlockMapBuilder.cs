using BlockSwarm.Devices;
namespace BlockSwarm.Imaging;

/// <summary>
/// Accumulates used blocks (in ascending or arbitrary order) for scanners that walk
/// allocation bitmaps; consecutive blocks are merged into one run as they arrive.
/// </summary>
public sealed class BlockMapBuilder
{
    private readonly List<Extent> _runs = [];
    private long _runStart = -1;
    private long _runEnd = -1;
    private bool _sorted = true;

    public BlockMapBuilder(long deviceSize, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        DeviceSize = deviceSize;
        BlockSize = blockSize;
    }

    public long DeviceSize { get; }
    public int BlockSize { get; }

    /// <summary>Marks <paramref name="count"/> blocks starting at block <paramref name="firstBlock"/> used.</summary>
    public void AddBlocks(long firstBlock, long count) => AddBytes(firstBlock * BlockSize, count * BlockSize);

    /// <summary>Marks a byte range used.</summary>
    public void AddBytes(long offset, long length)
    {
        if (length <= 0) return;
        if (offset < 0 || offset > DeviceSize || length > DeviceSize - offset)
            throw new BlockMapException(
                $"used range at byte {offset} (+{length}) lies past the end of the device ({DeviceSize} bytes); the metadata is inconsistent, try --map nonzero");
        long end = offset + length;
        if (_runStart >= 0 && offset >= _runStart && offset <= _runEnd)
        {
            _runEnd = Math.Max(_runEnd, end);
            return;
        }
        Flush();
        if (_runs.Count > 0 && offset < _runs[^1].End) _sorted = false;
        _runStart = offset;
        _runEnd = end;
    }

    private void Flush()
    {
        if (_runStart >= 0) _runs.Add(new Extent(_runStart, _runEnd - _runStart));
        _runStart = _runEnd = -1;
    }

    public BlockMap Build()
    {
        Flush();
        return _sorted && IsStrictlyIncreasing(_runs)
            ? BlockMap.FromExtents(DeviceSize, BlockSize, MergeAdjacent(_runs))
            : BlockMap.Normalize(DeviceSize, BlockSize, _runs);
    }

    private static bool IsStrictlyIncreasing(List<Extent> runs)
    {
        for (int i = 1; i < runs.Count; i++)
            if (runs[i].Offset < runs[i - 1].End) return false;
        return true;
    }

    private static List<Extent> MergeAdjacent(List<Extent> runs)
    {
        var merged = new List<Extent>(runs.Count);
        foreach (var e in runs)
        {
            if (merged.Count > 0 && merged[^1].End == e.Offset)
                merged[^1] = new Extent(merged[^1].Offset, merged[^1].Length + e.Length);
            else
                merged.Add(e);
        }
        return merged;
    }
}
