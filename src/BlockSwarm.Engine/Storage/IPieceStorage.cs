using System.Buffers;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Where a torrent's pieces live: a block device, an image file, plain files or a
/// read-only partclone directory. The engine's seam for all data I/O.
/// <para>
/// Leecher: copy blocks into a pooled piece buffer, verify its SHA-1, then hand the buffer
/// to <see cref="WritePieceAsync"/>; it completes once the piece is accepted into the
/// write-back cache and waits while the cache is full (back-pressure). The piece can be
/// read back (and announced) at once. <see cref="FlushAsync"/> puts every accepted piece
/// on stable storage; <see cref="GetDurablePieces"/> then lists them for a resume checkpoint.
/// </para>
/// <para>
/// A failed write (EIO, ENOSPC, short write) stops the storage: <see cref="Fault"/> is set
/// and every later write or flush throws it. Nothing is dropped silently.
/// </para>
/// </summary>
public interface IPieceStorage : IAsyncDisposable
{
    int PieceCount { get; }

    /// <summary>False for seed-only sources (partclone directories, read-only devices).</summary>
    bool IsWritable { get; }

    /// <summary>Write-back cache budget in bytes.</summary>
    long CacheBudget { get; }

    /// <summary>Bytes accepted but not yet written to the device.</summary>
    long PendingWriteBytes { get; }

    /// <summary>The error that stopped the storage, or null while it is healthy.</summary>
    StorageException? Fault { get; }

    /// <summary>Reads <c>destination.Length</c> bytes of <paramref name="piece"/> at <paramref name="offset"/> (uploads, verification).</summary>
    ValueTask ReadAsync(int piece, int offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// A block to upload without copying it out of the storage's cache: a lease whose <see cref="IMemoryOwner{T}.Memory"/>
    /// is the block, valid until disposed. Null when the storage cannot lend it (then use <see cref="ReadAsync"/>).
    /// </summary>
    ValueTask<IMemoryOwner<byte>?> TryLeaseAsync(int piece, int offset, int length, CancellationToken cancellationToken = default) =>
        new((IMemoryOwner<byte>?)null);

    /// <summary>
    /// Queues a whole, already SHA-1-verified piece for writing. Ownership of
    /// <paramref name="data"/> passes to the storage on the call, whatever the outcome: it is
    /// disposed exactly once, after the write (or on failure or cancellation). The first
    /// <c>GetPieceLength(piece)</c> bytes of its memory are the piece. Waits while the
    /// write-back cache is full.
    /// </summary>
    ValueTask WritePieceAsync(int piece, IMemoryOwner<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Waits until <paramref name="bytes"/> would fit in the write-back cache (lets the engine slow requests before buffering a piece).</summary>
    ValueTask WaitForCacheSpaceAsync(int bytes, CancellationToken cancellationToken = default);

    /// <summary>Writes every piece accepted before the call and fsyncs; throws <see cref="StorageException"/> on failure.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Snapshot of the pieces known to be on stable storage (fsynced, or recovered at start).</summary>
    Bitfield GetDurablePieces();

    /// <summary>Records pieces already on stable storage at start (from a resume file, a re-hash, or a trusted seed source).</summary>
    void MarkDurable(Bitfield pieces);
}
