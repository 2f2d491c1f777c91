using System.Buffers;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Piece buffers of a process (one per <see cref="PieceMemory"/>), the last returned rented first: the buffer the storage writer just released is the
/// next one filled, its pages still mapped and likely still in cache. <see cref="ArrayPool{T}.Shared"/> parks one
/// array per size in each thread's own slot; on the download path receive loops rent and the storage writer returns
/// on other threads, so parked buffers go unused while new ones are faulted in, page by page (on the development
/// VM a 4 MiB piece buffer costs ~1 ms of page faults). Exact sizes from 64 KiB up are kept; smaller requests go to
/// the shared pool. Bounded: arrays in use plus free arrays kept never exceed the byte bound (beyond it returned
/// arrays go to the GC), so torrents with different piece sizes cannot each park a budget's worth of free buffers.
/// </summary>
public sealed class PieceBufferPool : ArrayPool<byte>
{
    private const int MinPooledLength = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private readonly long _maxRetainedBytes;
    private long _retainedBytes;
    private long _rentedBytes;

    public PieceBufferPool(long maxRetainedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        _maxRetainedBytes = maxRetainedBytes;
    }

    /// <summary>Bytes of arrays rented and not yet returned.</summary>
    public long RentedBytes
    {
        get { lock (_lock) return _rentedBytes; }
    }

    /// <summary>Bytes held by free arrays now.</summary>
    public long RetainedBytes
    {
        get { lock (_lock) return _retainedBytes; }
    }

    /// <summary>An array of exactly <paramref name="minimumLength"/> bytes from 64 KiB up (contents undefined).</summary>
    public override byte[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength < MinPooledLength) return Shared.Rent(minimumLength);
        lock (_lock)
        {
            _rentedBytes += minimumLength;
            if (_free.TryGetValue(minimumLength, out var stack) && stack.TryPop(out var array))
            {
                _retainedBytes -= array.Length;
                return array;
            }
        }
        return GC.AllocateUninitializedArray<byte>(minimumLength);
    }

    public override void Return(byte[] array, bool clearArray = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length < MinPooledLength)
        {
            Shared.Return(array, clearArray);
            return;
        }
        if (clearArray) Array.Clear(array);
        lock (_lock)
        {
            _rentedBytes = Math.Max(0, _rentedBytes - array.Length);
            if (_retainedBytes + array.Length + _rentedBytes > _maxRetainedBytes) return;
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<byte[]>();
            stack.Push(array);
            _retainedBytes += array.Length;
        }
    }
}
