namespace BlockSwarm.Devices;

/// <summary>
/// How one write run [offset, offset + length) is split for O_DIRECT: the aligned middle as direct writes of at most
/// <c>maxDirectBytes</c> each, the unaligned head and tail (each shorter than the alignment) as buffered writes. The split only
/// ever narrows: every operation lies inside the run, so bytes outside the torrent's extents are never written and no
/// partial block is read, patched and written back.
/// </summary>
internal static class DirectIOPlan
{
    /// <summary>One write: <see cref="Direct"/> ones are aligned in offset and length and at most <c>maxDirectBytes</c> long.</summary>
    public readonly record struct Op(long Offset, int Length, bool Direct)
    {
        public long End => Offset + Length;
    }

    /// <summary>Appends the operations for a run to <paramref name="ops"/>, in device order, covering it exactly once.</summary>
    public static void Split(long offset, long length, int alignment, int maxDirectBytes, List<Op> ops)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a power of two");
        if (maxDirectBytes < alignment || maxDirectBytes % alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(maxDirectBytes), maxDirectBytes, $"must be a positive multiple of the alignment {alignment}");
        if (length == 0) return;
        long end = offset + length;
        long mask = alignment - 1;
        long middleStart = (offset + mask) & ~mask;
        long middleEnd = end & ~mask;
        if (middleStart >= middleEnd)
        {
            // No whole aligned block inside the run: all of it goes buffered (less than two blocks).
            AddBuffered(offset, end, ops);
            return;
        }
        AddBuffered(offset, middleStart, ops);
        for (long pos = middleStart; pos < middleEnd;)
        {
            int n = (int)Math.Min(maxDirectBytes, middleEnd - pos);
            ops.Add(new Op(pos, n, Direct: true));
            pos += n;
        }
        AddBuffered(middleEnd, end, ops);
    }

    private static void AddBuffered(long from, long to, List<Op> ops)
    {
        // Runs are at most int.MaxValue bytes (IBlockDevice.Write takes one gather list), so an edge always fits an int.
        if (to > from) ops.Add(new Op(from, checked((int)(to - from)), Direct: false));
    }
}
