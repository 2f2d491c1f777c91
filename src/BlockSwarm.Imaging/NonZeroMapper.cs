using System.Buffers;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging;

/// <summary>
/// The <c>nonzero</c> map: every block holding a non-zero byte, read in large chunks on every
/// core. A fallback for volumes without a scanner: a used block that happens to be all zeros is
/// not sent, so the target must read zeros there (a new or zeroed disk) for the copy to be exact.
/// </summary>
public static class NonZeroMapper
{
    public const int DefaultBlockSize = 4096;
    private const int ChunkBytes = 4 << 20;

    public static BlockMap Map(DeviceFile device, int blockSize = DefaultBlockSize, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Map(device, 0, device.Size, blockSize, progress, cancellationToken);
    }

    /// <summary>Maps the volume [<paramref name="volumeOffset"/>, +<paramref name="volumeLength"/>); extents are relative to the volume.</summary>
    public static BlockMap Map(DeviceFile device, long volumeOffset, long volumeLength, int blockSize = DefaultBlockSize, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        if (ChunkBytes % blockSize != 0) throw new ArgumentException("block size must divide 4 MiB", nameof(blockSize));
        if (volumeOffset < 0 || volumeLength < 0 || volumeOffset > device.Size - volumeLength)
            throw new BlockMapException($"volume [{volumeOffset}, +{volumeLength}) lies outside {device.Path} ({device.Size} bytes)");
        long size = volumeLength;
        int chunks = (int)((size + ChunkBytes - 1) / ChunkBytes);
        var perChunk = new List<Extent>?[chunks];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        Parallel.For(0, chunks, options, () => ArrayPool<byte>.Shared.Rent(ChunkBytes), (c, _, buffer) =>
        {
            long start = (long)c * ChunkBytes;
            int len = (int)Math.Min(ChunkBytes, size - start);
            var span = buffer.AsSpan(0, len);
            device.ReadExactly(volumeOffset + start, span);
            List<Extent>? runs = null;
            for (int off = 0; off < len; off += blockSize)
            {
                int n = Math.Min(blockSize, len - off);
                if (span.Slice(off, n).IndexOfAnyExcept((byte)0) < 0) continue;
                runs ??= [];
                long at = start + off;
                if (runs.Count > 0 && runs[^1].End == at) runs[^1] = runs[^1] with { Length = runs[^1].Length + n };
                else runs.Add(new Extent(at, n));
            }
            perChunk[c] = runs;
            progress?.Invoke(len);
            return buffer;
        }, buffer => ArrayPool<byte>.Shared.Return(buffer));
        var all = new List<Extent>();
        foreach (var runs in perChunk)
        {
            if (runs == null) continue;
            foreach (var e in runs)
            {
                if (all.Count > 0 && all[^1].End == e.Offset) all[^1] = all[^1] with { Length = all[^1].Length + e.Length };
                else all.Add(e);
            }
        }
        return BlockMap.FromExtents(size, blockSize, all);
    }
}
