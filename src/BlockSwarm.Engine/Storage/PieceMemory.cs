namespace BlockSwarm.Engine.Storage;

/// <summary>
/// One memory budget for all the piece data a process holds, shared by every torrent in it (a host running one
/// torrent per partition, a daemon adding torrents at run time): pieces being assembled and hashed, verified pieces
/// waiting for the storage writer (write-back), and whole pieces kept for uploads (read cache). Each part is bounded
/// on its own; their sum plus the runtime is about the process's resident memory, however many torrents run.
/// </summary>
/// <remarks>
/// The parts behave differently when full. Assembling: no new pieces are requested (blocks of started pieces still
/// complete them). Write-back: the hashing workers wait for the writer, and behind them the receive loops (the
/// back-pressure that slows a fast network to a slow disk). Read cache: the least recently used piece of any torrent
/// is evicted. Piece buffers come from one <see cref="PieceBufferPool"/> that never holds more, in use and free
/// together, than the three parts allow.
/// </remarks>
public sealed class PieceMemory
{
    /// <summary>The read cache never takes more than this (beyond it, hit rates stop improving for a LAN seeder).</summary>
    public const long MaxReadCacheBytes = 64L << 20;

    /// <summary>The compressed-run cache never takes more than this (at zstd's usual 3× on OS data, 96 MiB of runs).</summary>
    public const long MaxCompressedCacheBytes = 32L << 20;

    private long _assembling;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Action> _waiters = new();

    public PieceMemory(long assemblingBytes, long writeBackBytes, long readCacheBytes, long compressedCacheBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(compressedCacheBytes);
        CompressedCacheCapacity = compressedCacheBytes;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(assemblingBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(writeBackBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(readCacheBytes);
        AssemblingCapacity = assemblingBytes;
        WriteBack = new ByteBudget(writeBackBytes);
        ReadCache = new ReadCacheGroup(readCacheBytes);
        Buffers = new PieceBufferPool(assemblingBytes + writeBackBytes + readCacheBytes);
    }

    /// <summary>
    /// Splits <paramref name="totalBytes"/> (<c>--cache</c>, <c>--cache-size</c>): a quarter for pieces being assembled
    /// and hashed (at least two of the largest pieces, so a download always has one piece in flight while another is
    /// hashed), a quarter for the read cache (at most <see cref="MaxReadCacheBytes"/>), the rest for write-back (at
    /// least one piece), and out of the write-back's share an eighth for compressed runs kept for forwarding (at most
    /// <see cref="MaxCompressedCacheBytes"/>, and only while the write-back keeps a piece).
    /// </summary>
    public static PieceMemory Split(long totalBytes, int largestPieceLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(largestPieceLength);
        long total = Math.Max(totalBytes, largestPieceLength);
        long assembling = Math.Max(2L * largestPieceLength, total / 4);
        long readCache = Math.Min(MaxReadCacheBytes, total / 4);
        long compressed = Math.Clamp(total - assembling - readCache - largestPieceLength, 0, Math.Min(MaxCompressedCacheBytes, total / 8));
        long writeBack = Math.Max(largestPieceLength, total - assembling - readCache - compressed);
        return new PieceMemory(assembling, writeBack, readCache, compressed);
    }

    /// <summary>
    /// How many new pieces of <paramref name="pieceLength"/> a budget of <paramref name="capacity"/> with
    /// <paramref name="used"/> taken has room for: whole pieces only, but one when nothing is taken at all (a budget
    /// smaller than a piece must not stall the download); 0 = full.
    /// </summary>
    public static int PiecesThatFit(long capacity, long used, int pieceLength)
    {
        long room = capacity - used;
        if (room < pieceLength && used != 0) return 0;
        return (int)Math.Clamp(room / pieceLength, 1, int.MaxValue);
    }

    /// <summary>Bytes of pieces being assembled or hashed before requests for new pieces pause.</summary>
    public long AssemblingCapacity { get; }

    /// <summary>Bytes of the pieces every torrent has started (first block requested, not yet verified and handed to storage).</summary>
    public long AssemblingUsed => Interlocked.Read(ref _assembling);

    /// <summary>No new piece should be started: blocks already requested still arrive and finish theirs.</summary>
    public bool AssemblingFull => AssemblingUsed >= AssemblingCapacity;

    public long WriteBackCapacity => WriteBack.Capacity;
    public long WriteBackUsed => WriteBack.Used;
    public long ReadCacheCapacity => ReadCache.Capacity;
    public long ReadCacheUsed => ReadCache.Bytes;

    /// <summary>
    /// Compressed runs kept for uploads (<c>bs_zstd</c>, <see cref="Compression.CompressedBlockCache"/>); 0 = none kept
    /// (every run a peer uploads compressed is compressed again). Not piece buffers: plain arrays, a third of a run's size
    /// on OS data.
    /// </summary>
    public long CompressedCacheCapacity { get; }

    /// <summary>The parts together: what the process may hold in piece data.</summary>
    public long TotalCapacity => AssemblingCapacity + WriteBackCapacity + ReadCacheCapacity + CompressedCacheCapacity;

    /// <summary>Where every piece buffer (assembling, write-back, read cache) is rented and returned.</summary>
    public PieceBufferPool Buffers { get; }

    internal ByteBudget WriteBack { get; }
    internal ReadCacheGroup ReadCache { get; }

    /// <summary>
    /// Changes the assembling count (the swarm states call this, under their locks: it must stay cheap). Bytes given back
    /// wake the torrent that has waited longest for room, on the thread pool: with one budget shared by many torrents,
    /// a torrent that found it full has no piece of its own arriving to make it ask again.
    /// </summary>
    internal void AddAssembling(long bytes)
    {
        Interlocked.Add(ref _assembling, bytes);
        if (bytes < 0 && _waiters.TryDequeue(out var wake)) ThreadPool.UnsafeQueueUserWorkItem(static w => w(), wake, preferLocal: false);
    }

    /// <summary>Calls <paramref name="onRoom"/> (once, on the thread pool) the next time assembling bytes are given back.</summary>
    internal void WaitForRoom(Action onRoom) => _waiters.Enqueue(onRoom);
}
