using System.Collections.Immutable;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging;

/// <summary>
/// The used bytes of a device: sorted, non-overlapping extents inside [0, DeviceSize).
/// Extents are kept exactly as given (adjacent runs are not merged unless asked) because
/// partclone-compatible torrents need one torrent file per listed run.
/// </summary>
public sealed class BlockMap
{
    private BlockMap(long deviceSize, int blockSize, ImmutableArray<Extent> extents, long usedBytes)
    {
        DeviceSize = deviceSize;
        BlockSize = blockSize;
        Extents = extents;
        UsedBytes = usedBytes;
    }

    /// <summary>Size of the whole device or image in bytes.</summary>
    public long DeviceSize { get; }

    /// <summary>Allocation unit of the source (filesystem block, sector, ...); 1 when not known.</summary>
    public int BlockSize { get; }

    /// <summary>Sorted, non-overlapping, non-empty extents.</summary>
    public ImmutableArray<Extent> Extents { get; }

    /// <summary>Sum of the extents' lengths.</summary>
    public long UsedBytes { get; }

    /// <summary>
    /// Builds a map from extents that must already be sorted and non-overlapping and lie
    /// inside the device; throws <see cref="BlockMapException"/> naming the first offender.
    /// Zero-length extents are rejected (a torrent file of length 0 maps to nothing).
    /// </summary>
    public static BlockMap FromExtents(long deviceSize, int blockSize, IEnumerable<Extent> extents)
    {
        ArgumentNullException.ThrowIfNull(extents);
        if (deviceSize < 0) throw new BlockMapException($"device size {deviceSize} is negative");
        if (blockSize <= 0) throw new BlockMapException($"block size {blockSize} must be positive");
        var builder = ImmutableArray.CreateBuilder<Extent>();
        long used = 0;
        long prevEnd = 0;
        int index = 0;
        foreach (var e in extents)
        {
            if (e.Offset < 0 || e.Length <= 0)
                throw new BlockMapException($"extent #{index} {e} has a negative offset or a non-positive length");
            if (e.Offset > long.MaxValue - e.Length)
                throw new BlockMapException($"extent #{index} at offset {e.Offset} overflows with length {e.Length}");
            if (index > 0 && e.Offset < prevEnd)
                throw new BlockMapException($"extent #{index} {e} starts before the previous one ends (0x{prevEnd:x}): extents overlap or are out of order");
            if (e.End > deviceSize)
                throw new BlockMapException($"extent #{index} {e} ends past the device size {deviceSize} (0x{deviceSize:x})");
            builder.Add(e);
            used += e.Length;
            prevEnd = e.End;
            index++;
        }
        return new BlockMap(deviceSize, blockSize, builder.ToImmutable(), used);
    }

    /// <summary>Sorts, merges overlapping and adjacent extents, and drops empty ones.</summary>
    public static BlockMap Normalize(long deviceSize, int blockSize, IEnumerable<Extent> extents)
    {
        ArgumentNullException.ThrowIfNull(extents);
        var list = extents.Where(e => e.Length > 0).ToList();
        list.Sort();
        var merged = new List<Extent>(list.Count);
        foreach (var e in list)
        {
            if (merged.Count > 0 && e.Offset <= merged[^1].End)
            {
                var last = merged[^1];
                merged[^1] = new Extent(last.Offset, Math.Max(last.End, e.End) - last.Offset);
            }
            else
            {
                merged.Add(e);
            }
        }
        return FromExtents(deviceSize, blockSize, merged);
    }

    /// <summary>The whole device as one extent.</summary>
    public static BlockMap Whole(long deviceSize, int blockSize = 1) =>
        FromExtents(deviceSize, blockSize, deviceSize > 0 ? [new Extent(0, deviceSize)] : []);

    /// <summary>Union of two maps of the same device (merged, normalized).</summary>
    public BlockMap Union(BlockMap other)
    {
        ArgumentNullException.ThrowIfNull(other);
        long size = Math.Max(DeviceSize, other.DeviceSize);
        int bs = BlockSize == other.BlockSize ? BlockSize : 1;
        return Normalize(size, bs, Extents.Concat(other.Extents));
    }

    /// <summary>
    /// Moves every extent by <paramref name="delta"/> bytes (a partition's map onto its disk)
    /// and places it on a device of <paramref name="newDeviceSize"/> bytes.
    /// </summary>
    public BlockMap Shift(long delta, long newDeviceSize) =>
        FromExtents(newDeviceSize, BlockSize, Extents.Select(e => e with { Offset = e.Offset + delta }));

    /// <summary>Throws unless every extent ends inside a device of the given size.</summary>
    public void ValidateFits(long targetDeviceSize)
    {
        if (Extents.Length > 0 && Extents[^1].End > targetDeviceSize)
            throw new BlockMapException(
                $"the map needs {Extents[^1].End} bytes but the target has {targetDeviceSize}: last extent {Extents[^1]} does not fit");
    }

    /// <summary>True when every byte of <paramref name="other"/> is inside this map.</summary>
    public bool Covers(BlockMap other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return other.Difference(this).UsedBytes == 0;
    }

    /// <summary>Bytes of this map that are not in <paramref name="other"/>.</summary>
    public BlockMap Difference(BlockMap other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var a = Normalize(DeviceSize, BlockSize, Extents).Extents;
        var b = Normalize(other.DeviceSize, other.BlockSize, other.Extents).Extents;
        var result = new List<Extent>();
        int j = 0;
        foreach (var e in a)
        {
            long start = e.Offset;
            while (j < b.Length && b[j].End <= start) j++;
            int k = j;
            while (start < e.End)
            {
                if (k >= b.Length || b[k].Offset >= e.End)
                {
                    result.Add(new Extent(start, e.End - start));
                    break;
                }
                if (b[k].Offset > start) result.Add(new Extent(start, b[k].Offset - start));
                start = Math.Max(start, b[k].End);
                k++;
            }
        }
        return FromExtents(DeviceSize, BlockSize, result);
    }

    /// <summary>Splits extents so none is longer than <paramref name="maxRun"/> bytes (partclone's buffer cut).</summary>
    public BlockMap SplitRuns(long maxRun)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRun);
        var list = new List<Extent>(Extents.Length);
        foreach (var e in Extents)
        {
            for (long off = e.Offset; off < e.End; off += maxRun)
                list.Add(new Extent(off, Math.Min(maxRun, e.End - off)));
        }
        return FromExtents(DeviceSize, BlockSize, list);
    }

    public override string ToString() =>
        $"BlockMap({Extents.Length} extents, {UsedBytes} of {DeviceSize} bytes used, block {BlockSize})";
}
