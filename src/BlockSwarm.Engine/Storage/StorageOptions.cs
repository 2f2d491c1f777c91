using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Engine.Storage;

/// <summary>Cache sizes and buffer pool for a <see cref="MappedPieceStorage"/>.</summary>
public sealed record StorageOptions
{
    public const long DefaultCacheBytes = 256L << 20;
    public const long DefaultReadCacheBytes = 64L << 20;

    /// <summary>Never more than this, whatever <c>--cache</c> says: more only delays back-pressure.</summary>
    public const long MaxCacheBytes = 8L << 30;

    /// <summary>Write-back cache budget (<c>--cache SIZE</c>): verified pieces waiting for the writer. When full, writers wait.</summary>
    public long CacheBytes { get; init; } = DefaultCacheBytes;

    /// <summary>Seeder read cache (whole pieces, LRU). 0 disables it: every request is a direct read.</summary>
    public long ReadCacheBytes { get; init; } = DefaultReadCacheBytes;

    /// <summary>A read-cache miss reads at least this many bytes of consecutive pieces in one go.</summary>
    public int ReadAheadBytes { get; init; } = 1 << 20;

    /// <summary>The writer takes up to this many queued bytes per batch before sorting and coalescing them.</summary>
    public long MaxWriteBatchBytes { get; init; } = 64L << 20;

    /// <summary>
    /// How a <see cref="DeviceStorage"/> opened for writing writes its target (<c>--write-mode</c>; default
    /// <see cref="WriteMode.Auto"/>: O_DIRECT where the target takes it). With O_DIRECT the aligned parts of each write
    /// run go straight from the piece buffers (or aligned bounce buffers, taken out of <see cref="CacheBytes"/>, where
    /// those are not aligned), unaligned edges stay buffered.
    /// Reads, read-only storages and plain files (<see cref="FileStorage"/>) are always buffered.
    /// </summary>
    public WriteMode WriteMode { get; init; } = WriteMode.Auto;

    /// <summary>Where a storage says how it writes its target (and why not with O_DIRECT, when it falls back).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// The process-wide piece memory budget. When set, the write-back cache and the read cache are its shared parts
    /// (<see cref="CacheBytes"/>, <see cref="ReadCacheBytes"/> and <see cref="Pool"/> are then ignored), so any number of
    /// torrents in one process stay inside one bound. Null: this storage has budgets of its own.
    /// </summary>
    public PieceMemory? Memory { get; init; }

    /// <summary>Pool for read-cache buffers (tests inject a counting pool).</summary>
    public ArrayPool<byte> Pool { get; init; } = ArrayPool<byte>.Shared;

    /// <summary>
    /// Clamps a requested cache size to [one piece, min(<see cref="MaxCacheBytes"/>, half the memory the GC may use)],
    /// so a typo in <c>--cache</c> cannot exhaust RAM.
    /// </summary>
    public static long ClampCacheBytes(long requested, int pieceLength)
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long cap = Math.Min(MaxCacheBytes, available > 0 ? available / 2 : MaxCacheBytes);
        return Math.Clamp(requested, pieceLength, Math.Max(pieceLength, cap));
    }
}
