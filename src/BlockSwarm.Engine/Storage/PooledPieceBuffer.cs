using System.Buffers;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A piece buffer rented from an <see cref="ArrayPool{T}"/>, exactly <c>length</c> bytes of
/// memory, returned to the pool once on <see cref="Dispose"/>. The unit of ownership passed
/// from the engine to <see cref="IPieceStorage.WritePieceAsync"/>. Rented from a
/// <see cref="PieceBufferPool"/> its memory starts on a page boundary, so an O_DIRECT target is
/// written straight from it.
/// </summary>
public sealed class PooledPieceBuffer : IMemoryOwner<byte>
{
    private readonly ArrayPool<byte> _pool;
    private byte[]? _array;
    private readonly int _offset;
    private readonly int _length;

    public PooledPieceBuffer(int length, ArrayPool<byte>? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _pool = pool ?? ArrayPool<byte>.Shared;
        _array = _pool.Rent(length);
        _offset = _pool is PieceBufferPool ? PieceBufferPool.AlignedOffset(_array, length) : 0;
        _length = length;
    }

    public Memory<byte> Memory => new(_array ?? throw new ObjectDisposedException(nameof(PooledPieceBuffer)), _offset, _length);

    public Span<byte> Span => Memory.Span;

    public void Dispose()
    {
        // Interlocked so a double dispose can never return the same array twice.
        var a = Interlocked.Exchange(ref _array, null);
        if (a != null) _pool.Return(a);
    }
}
