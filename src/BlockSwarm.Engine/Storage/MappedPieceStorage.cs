using System.Buffers;
using System.Threading.Channels;
using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// The storage engine shared by <see cref="DeviceStorage"/>, <see cref="FileStorage"/> and
/// <see cref="PartcloneSliceSource"/>: a piece stream (an <see cref="ExtentStream"/>) over an
/// <see cref="IBlockDevice"/> address space.
/// <para>
/// Writes: <see cref="WritePieceAsync"/> takes byte budget (waiting while the write-back
/// cache is full) and queues the piece. One writer task drains the queue in batches, maps
/// every piece to device slices, sorts them by device offset and merges device-adjacent
/// slices into gather writes (<c>pwritev</c>). Every run is checked to lie inside the
/// layout's extents before it is written. Flushes travel through the same queue, so a flush
/// covers exactly the pieces accepted before it, then fsyncs.
/// </para>
/// <para>
/// Reads: a piece still queued is served from its buffer (so it can be announced as soon
/// as it is verified); otherwise from the shared read cache or directly from the device.
/// </para>
/// </summary>
public abstract partial class MappedPieceStorage : IPieceStorage, IFileRunSource
{
    private readonly IBlockDevice _device;
    private readonly ExtentStream _stream;
    private readonly long[] _extentStarts;
    private readonly long[] _extentEnds;
    private readonly StorageOptions _options;
    private readonly ByteBudget _budget;
    private readonly Channel<QueueItem> _queue;
    private readonly Task _writer;
    private readonly ReadCache? _readCache;
    private readonly Lock _pendingLock = new();
    private readonly Dictionary<int, QueueItem> _pending = [];
    private readonly Lock _stateLock = new();
    private readonly Bitfield _written;
    private readonly Bitfield _durable;
    private StorageException? _fault;
    private readonly CancellationTokenSource _faulted = new();
    private int _faultObserved;
    private int _disposed;
    private long _writeCalls;
    private long _bytesWritten;
    private long _flushes;

    protected MappedPieceStorage(IBlockDevice device, ExtentStream stream, int pieceLength, StorageOptions? options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceLength);
        _device = device;
        _stream = stream;
        _options = options ?? new StorageOptions();
        PieceLength = pieceLength;
        TotalLength = stream.Length;
        PieceCount = (int)((stream.Length + pieceLength - 1) / pieceLength);
        // The extents, sorted by device offset, for the write guard.
        var sorted = stream.Extents.Where(e => e.Length > 0).OrderBy(e => e.Offset).ToArray();
        _extentStarts = sorted.Select(e => e.Offset).ToArray();
        _extentEnds = sorted.Select(e => e.End).ToArray();
        if (sorted.Length > 0 && sorted[^1].End > device.Size)
            throw new StorageException($"{device.Name}: the layout needs {sorted[^1].End} bytes but the device has {device.Size}");
        _written = new Bitfield(PieceCount);
        _durable = new Bitfield(PieceCount);
        // With a shared PieceMemory every storage of the process draws on one write-back budget and one read cache;
        // otherwise this storage has budgets of its own.
        var memory = _options.Memory;
        _budget = memory?.WriteBack ?? new ByteBudget(Math.Max(1, _options.CacheBytes));
        _queue = Channel.CreateUnbounded<QueueItem>(new UnboundedChannelOptions { SingleReader = true });
        var readGroup = memory?.ReadCache ?? (_options.ReadCacheBytes > 0 ? new ReadCacheGroup(_options.ReadCacheBytes) : null);
        if (readGroup != null)
        {
            var cache = new ReadCache(readGroup, pieceLength, PieceCount, GetPieceLength, _options.ReadAheadBytes, memory?.Buffers ?? _options.Pool, FillPieces,
                ReadDirect);
            if (cache.Enabled) _readCache = cache;
        }
        _sendFile = OpenForSendFile(device);
        // The writer runs on the thread pool; its pwritev calls block one pool thread at a
        // time, which is what RandomAccess.WriteAsync would do on Unix anyway.
        _writer = device.CanWrite ? Task.Run(WriterLoopAsync) : Task.CompletedTask;
    }

    public int PieceLength { get; }
    public int PieceCount { get; }
    public long TotalLength { get; }

    /// <summary>
    /// Where this storage's piece buffers come from (the shared <see cref="PieceMemory"/>'s pool, or
    /// <see cref="StorageOptions.Pool"/>): start-up checks that read whole pieces rent here, so the buffers they leave
    /// are the ones the download fills next, inside the budget, not extra arrays parked in the shared pool.
    /// </summary>
    public ArrayPool<byte> PieceBuffers => _options.Memory?.Buffers ?? _options.Pool;

    private readonly FileStream? _sendFile;

    /// <summary>Bytes of verified pieces the write-back queue may hold (<see cref="StorageOptions.CacheBytes"/>, or the shared budget).</summary>
    public long WriteCacheBytes => _budget.Capacity;

    /// <summary>
    /// A second, read-only descriptor of the device for <c>sendfile</c> (the socket layer wants a stream opened for
    /// asynchronous use, and owning it keeps its lifetime simple), where the device is an image file (or a device whose
    /// full size fstat reports), written buffered or with O_DIRECT (the kernel keeps the page cache coherent with direct
    /// writes); null elsewhere (file sets, block devices: fstat says 0 bytes) or when it cannot be opened.
    /// </summary>
    private static FileStream? OpenForSendFile(IBlockDevice device)
    {
        var file = device switch
        {
            DeviceFileBlockDevice d => d.File,
            DirectIOBlockDevice d => d.File,
            _ => null,
        };
        if (file is null) return null;
        Microsoft.Win32.SafeHandles.SafeFileHandle? handle = null;
        try
        {
            handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
            // The socket layer checks every run against the length fstat reports: a device reporting less cannot use it.
            if (RandomAccess.GetLength(handle) < device.Size)
            {
                handle.Dispose();
                return null;
            }
            return new FileStream(handle, FileAccess.Read, bufferSize: 0, isAsync: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            handle?.Dispose();
            return null;
        }
    }

    /// <summary>
    /// The device regions holding [<paramref name="offset"/>, +<paramref name="length"/>) of a piece, for sending with
    /// <c>sendfile</c> straight from the page cache: no read into a buffer, no copy into the socket. Null when the
    /// device does not allow it or the piece still waits in the write-back queue (its bytes are not on the device yet).
    /// <paramref name="onSendFailed"/> runs if the send fails, to tell a read error of the device from a broken socket.
    /// </summary>
    public FileRun? TryGetFileRun(int piece, int offset, int length, Action<FileRun, Exception>? onSendFailed = null)
    {
        if (_sendFile is not { } file || Volatile.Read(ref _disposed) != 0) return null;
        int len = GetPieceLength(piece);
        if (offset < 0 || length <= 0 || offset > len - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, +{length}) is outside piece {piece} of {len} bytes");
        lock (_pendingLock)
            if (_pending.ContainsKey(piece)) return null;
        var slices = new List<DeviceSlice>(2);
        _stream.MapRange((long)piece * PieceLength + offset, length, slices);
        var regions = new (long Offset, int Length)[slices.Count];
        for (int i = 0; i < regions.Length; i++) regions[i] = (slices[i].DeviceOffset, slices[i].Length);
        return new FileRun(file, regions, onSendFailed);
    }
    public bool IsWritable => _device.CanWrite;
    public long CacheBudget => _budget.Capacity;
    public long PendingWriteBytes => _budget.Used;
    public StorageException? Fault => Volatile.Read(ref _fault);
    protected internal IBlockDevice Device => _device;
    public ExtentStream Stream => _stream;

    /// <summary>Gather writes issued (one per coalesced run), for tests and statistics.</summary>
    public long WriteCalls => Interlocked.Read(ref _writeCalls);
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    public long Flushes => Interlocked.Read(ref _flushes);
    public long ReadCacheHits => _readCache?.Hits ?? 0;
    public long ReadCacheMisses => _readCache?.Misses ?? 0;

    public int GetPieceLength(int piece)
    {
        if ((uint)piece >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(piece), piece, $"piece index must be in [0, {PieceCount})");
        return piece == PieceCount - 1 ? (int)(TotalLength - (long)piece * PieceLength) : PieceLength;
    }

    public ValueTask ReadAsync(int piece, int offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        int len = GetPieceLength(piece);
        if (offset < 0 || offset > len - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, +{destination.Length}) is outside piece {piece} of {len} bytes");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (destination.Length == 0) return ValueTask.CompletedTask;
        lock (_pendingLock)
        {
            // The writer removes an entry under this lock before it frees the buffer.
            if (_pending.TryGetValue(piece, out var queued))
            {
                queued.Data!.Memory.Slice(offset, destination.Length).CopyTo(destination);
                return ValueTask.CompletedTask;
            }
        }
        if (_readCache != null)
            return _readCache.ReadAsync(piece, offset, destination, cancellationToken);
        ReadDirect(piece, offset, destination);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Uploads without a copy: a lease on the block inside the shared read cache (filled on a miss), or null when
    /// there is no cache or the piece is still queued for writing (then use <see cref="ReadAsync"/>).
    /// </summary>
    public ValueTask<IMemoryOwner<byte>?> TryLeaseAsync(int piece, int offset, int length, CancellationToken cancellationToken = default)
    {
        int len = GetPieceLength(piece);
        if (offset < 0 || length <= 0 || offset > len - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, +{length}) is outside piece {piece} of {len} bytes");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_readCache == null) return new((IMemoryOwner<byte>?)null);
        lock (_pendingLock)
            if (_pending.ContainsKey(piece)) return new((IMemoryOwner<byte>?)null);
        return _readCache.TryLease(piece, offset, length) is { } lease ? new(lease) : LeaseAfterFillAsync(piece, offset, length, cancellationToken);
    }

    private async ValueTask<IMemoryOwner<byte>?> LeaseAfterFillAsync(int piece, int offset, int length, CancellationToken cancellationToken)
    {
        // A miss: one (read-ahead) fill through the ordinary path, then the piece is cached. If it was evicted again
        // in between, the caller falls back to a copying read.
        await _readCache!.ReadAsync(piece, offset, new byte[1], cancellationToken).ConfigureAwait(false);
        return _readCache.TryLease(piece, offset, length);
    }

    private void ReadDirect(int piece, int offset, Memory<byte> destination) =>
        ReadStreamDirect((long)piece * PieceLength + offset, destination);

    /// <summary>Reads a run's regions from the device (after its sendfile failed): throws the device's read error, if it has one.</summary>
    public void CheckReadable(FileRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        int longest = 0;
        foreach (var (_, length) in run.Regions) longest = Math.Max(longest, length);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(longest);
        try
        {
            foreach (var (offset, length) in run.Regions) ReadDevice(offset, [buffer.AsMemory(0, length)]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads piece-stream bytes straight from the device, bypassing queue and cache (re-hash, spot checks).</summary>
    public void ReadStreamDirect(long streamOffset, Memory<byte> destination)
    {
        var slices = new List<DeviceSlice>();
        _stream.MapRange(streamOffset, destination.Length, slices);
        var one = new Memory<byte>[1];
        foreach (var s in slices)
        {
            one[0] = destination.Slice(s.BufferOffset, s.Length);
            ReadDevice(s.DeviceOffset, one);
        }
    }

    /// <summary>A device read whose failure names the device and the offset (a read error stops the torrent: never served as data).</summary>
    private void ReadDevice(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        try
        {
            _device.Read(offset, buffers);
        }
        catch (IOException ex) when (ex is not StorageException)
        {
            throw new StorageException($"{_device.Name}: reading {PositionalIO.TotalLength(buffers)} bytes at offset {offset} failed: {ex.Message}", ex);
        }
    }

    /// <summary>Read-cache fill: one scatter read per device run, straight into the pieces' buffers.</summary>
    private void FillPieces(int first, IReadOnlyList<Memory<byte>> buffers)
    {
        long total = PositionalIO.TotalLength(buffers);
        var slices = new List<DeviceSlice>();
        _stream.MapRange((long)first * PieceLength, checked((int)total), slices);
        foreach (var s in slices)
            ReadDevice(s.DeviceOffset, PositionalIO.Range(buffers, s.BufferOffset, s.Length));
    }

    public async ValueTask WritePieceAsync(int piece, IMemoryOwner<byte> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        bool handedOver = false;
        int len = 0;
        bool acquired = false;
        try
        {
            len = GetPieceLength(piece);
            if (data.Memory.Length < len)
                throw new ArgumentException($"piece {piece} needs {len} bytes, the buffer holds {data.Memory.Length}", nameof(data));
            if (!IsWritable) throw new NotSupportedException($"{_device.Name} is read-only: it cannot store piece {piece}");
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            ThrowIfFaulted();
            await AcquireBudgetAsync(len, cancellationToken).ConfigureAwait(false);
            acquired = true;
            var item = new QueueItem(piece, data, len, null);
            _readCache?.Invalidate(piece);
            lock (_pendingLock) _pending[piece] = item;
            if (!_queue.Writer.TryWrite(item))
            {
                lock (_pendingLock)
                    if (_pending.TryGetValue(piece, out var cur) && ReferenceEquals(cur.Data, data)) _pending.Remove(piece);
                ThrowIfFaulted();
                throw new ObjectDisposedException(GetType().Name);
            }
            handedOver = true;
        }
        catch (StorageException)
        {
            MarkFaultObserved();
            throw;
        }
        finally
        {
            if (!handedOver)
            {
                if (acquired) _budget.Release(len);
                data.Dispose();
            }
        }
    }

    public async ValueTask WaitForCacheSpaceAsync(int bytes, CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        await AcquireBudgetAsync(bytes, cancellationToken).ConfigureAwait(false);
        _budget.Release(bytes);
    }

    /// <summary>
    /// Takes write-back budget, waiting while it is used up. The budget may be shared with other torrents' storages, so a
    /// fault of this storage cannot fail it for everyone: it wakes only this storage's waiters (cancelling them), who then
    /// throw the fault.
    /// </summary>
    private ValueTask AcquireBudgetAsync(long bytes, CancellationToken cancellationToken)
    {
        if (_budget.TryAcquire(bytes)) return ValueTask.CompletedTask;
        return AcquireBudgetSlowAsync(bytes, cancellationToken);
    }

    private async ValueTask AcquireBudgetSlowAsync(long bytes, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _faulted.Token);
        try
        {
            await _budget.AcquireAsync(bytes, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_faulted.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            ThrowIfFaulted();
            throw;
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        if (!IsWritable) return;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new QueueItem(-1, null, 0, done)))
        {
            ThrowIfFaulted();
            throw new ObjectDisposedException(GetType().Name);
        }
        try
        {
            // Cancelling stops the wait, not the flush: the writer still fsyncs in order.
            await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            MarkFaultObserved();
            throw;
        }
    }

    public Bitfield GetDurablePieces()
    {
        lock (_stateLock) return _durable.Clone();
    }

    /// <summary>Pieces written to the device (maybe not yet fsynced).</summary>
    public Bitfield GetWrittenPieces()
    {
        lock (_stateLock) return _written.Clone();
    }

    public void MarkDurable(Bitfield pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (pieces.Length != PieceCount) throw new ArgumentException($"bitfield has {pieces.Length} pieces, storage has {PieceCount}", nameof(pieces));
        lock (_stateLock)
            for (int i = pieces.NextSet(0); i >= 0; i = pieces.NextSet(i + 1))
            {
                _written[i] = true;
                _durable[i] = true;
            }
    }

    private void ThrowIfFaulted()
    {
        if (Volatile.Read(ref _fault) is { } f)
        {
            MarkFaultObserved();
            throw f;
        }
    }

    private void MarkFaultObserved() => Interlocked.Exchange(ref _faultObserved, 1);

    /// <summary>
    /// Drains the queue, fsyncs and closes the device. Throws a <see cref="StorageException"/>
    /// if the final write or fsync fails, or if an earlier fault was never reported to a caller.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        StorageException? toThrow = null;
        try
        {
            if (IsWritable && Fault == null)
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_queue.Writer.TryWrite(new QueueItem(-1, null, 0, done)))
                    try { await done.Task.ConfigureAwait(false); } catch (StorageException) { }
            }
            _queue.Writer.TryComplete();
            await _writer.ConfigureAwait(false);
            if (Fault is { } f && Interlocked.Exchange(ref _faultObserved, 1) == 0) toThrow = f;
        }
        finally
        {
            _readCache?.Dispose();
            _sendFile?.Dispose();
            _faulted.Dispose();
            _device.Dispose();
            GC.SuppressFinalize(this);
        }
        if (toThrow != null) throw toThrow;
    }

    private readonly record struct QueueItem(int Piece, IMemoryOwner<byte>? Data, int Length, TaskCompletionSource? Flush);

    private readonly record struct Segment(long DeviceOffset, ReadOnlyMemory<byte> Data);
}
