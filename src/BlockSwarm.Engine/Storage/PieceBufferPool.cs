using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Piece buffers of a process (one per <see cref="PieceMemory"/>), the last returned rented first: the buffer the storage writer just released is the
/// next one filled, its pages still mapped and likely still in cache. <see cref="ArrayPool{T}.Shared"/> parks one
/// array per size in each thread's own slot; on the download path receive loops rent and the storage writer returns
/// on other threads, so parked buffers go unused while new ones are faulted in, page by page (on the development
/// VM a 4 MiB piece buffer costs ~1 ms of page faults). Exact sizes from 64 KiB up are kept; smaller requests go to
/// the shared pool. Bounded: arrays in use plus free arrays kept never exceed the byte bound (beyond it returned
/// arrays go to the GC), so torrents with different piece sizes cannot each park a budget's worth of free buffers.
/// A request no free array of its size fits takes the smallest larger free array, up to twice its size: a torrent's
/// shorter last piece (Clonezilla's runs are cut at 16 MiB, every partition ends in an odd size) reuses a full-size
/// buffer rather than allocating, and its odd-sized array never parks in the pool while the next full-size piece
/// allocates a new one past the bound, leaving 16 MiB of large-object garbage behind.
/// <para>
/// Arrays from 64 KiB up are pinned (the pinned object heap: they never move) and <see cref="Slack"/> bytes longer
/// than asked, so a piece buffer can start on a page boundary (<see cref="AlignedOffset"/>, used by
/// <see cref="PooledPieceBuffer"/>): an O_DIRECT target is then written straight from the piece buffers, without a
/// copy into a bounce buffer. Sizes and byte counts are those asked for; the slack is not counted.
/// </para>
/// </summary>
public sealed class PieceBufferPool : ArrayPool<byte>
{
    private const int MinPooledLength = 64 * 1024;

    /// <summary>Page alignment a piece buffer can start on.</summary>
    public const int Alignment = 4096;

    /// <summary>Bytes every pooled array has beyond its size, room to start the data on an <see cref="Alignment"/> boundary.</summary>
    public const int Slack = Alignment;

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

    /// <summary>
    /// An array of at least <paramref name="minimumLength"/> bytes (contents undefined): from 64 KiB up, one of exactly
    /// that size (plus <see cref="Slack"/>) when free or new, else a free one up to twice as long.
    /// </summary>
    public override byte[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength < MinPooledLength) return Shared.Rent(minimumLength);
        lock (_lock)
        {
            if (!_free.TryGetValue(minimumLength, out var stack) || stack.Count == 0) stack = BestFitLocked(minimumLength);
            if (stack != null && stack.TryPop(out var array))
            {
                _retainedBytes -= SizeOf(array);
                _rentedBytes += SizeOf(array);
                return array;
            }
            _rentedBytes += minimumLength;
        }
        return GC.AllocateUninitializedArray<byte>(minimumLength + Slack, pinned: true);
    }

    /// <summary>The size an array of this pool was rented as (its length without the slack).</summary>
    private static int SizeOf(byte[] array) => Math.Max(MinPooledLength, array.Length - Slack);

    /// <summary>
    /// Where in <paramref name="array"/> (one this pool handed out) data of <paramref name="length"/> bytes can start on
    /// an <see cref="Alignment"/> boundary; 0 when it cannot (a small or foreign array). The pool's arrays are pinned, so
    /// the offset stays right; were an array ever to move, the data would just no longer be aligned.
    /// </summary>
    public static unsafe int AlignedOffset(byte[] array, int length)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (length < MinPooledLength || array.Length < length + Slack) return 0;
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return (int)((Alignment - (address & (Alignment - 1))) & (Alignment - 1));
    }

    /// <summary>The free arrays of the smallest length from <paramref name="length"/> to twice it, or null.</summary>
    private Stack<byte[]>? BestFitLocked(int length)
    {
        Stack<byte[]>? best = null;
        int bestLength = int.MaxValue;
        foreach (var (size, stack) in _free)
            if (stack.Count > 0 && size > length && size / 2 <= length && size < bestLength)
            {
                best = stack;
                bestLength = size;
            }
        return best;
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
        int size = SizeOf(array);
        lock (_lock)
        {
            _rentedBytes = Math.Max(0, _rentedBytes - size);
            if (_retainedBytes + size + _rentedBytes > _maxRetainedBytes) return;
            if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<byte[]>();
            stack.Push(array);
            _retainedBytes += size;
        }
    }
}
