using System.Runtime.InteropServices;

namespace BlockSwarm.Devices;

/// <summary>
/// Native buffers aligned for O_DIRECT (<see cref="NativeMemory.AlignedAlloc"/>), allocated on first use, at most
/// <see cref="MaxBuffers"/> of them: a renter waits while all are out, so the memory is bounded. Dispose frees them.
/// </summary>
internal sealed unsafe class AlignedBufferPool : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<nint> _free = new();
    private readonly SemaphoreSlim _available;
    private readonly List<nint> _all = [];
    private bool _disposed;

    public AlignedBufferPool(int bufferBytes, int alignment, int maxBuffers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bufferBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBuffers);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a power of two");
        BufferBytes = bufferBytes;
        Alignment = alignment;
        MaxBuffers = maxBuffers;
        _available = new SemaphoreSlim(maxBuffers, maxBuffers);
    }

    public int BufferBytes { get; }
    public int Alignment { get; }
    public int MaxBuffers { get; }

    /// <summary>Buffers allocated so far (never more than <see cref="MaxBuffers"/>).</summary>
    public int Allocated
    {
        get { lock (_lock) return _all.Count; }
    }

    /// <summary>Buffers rented and not yet returned.</summary>
    public int Outstanding
    {
        get { lock (_lock) return _all.Count - _free.Count; }
    }

    public byte* Rent()
    {
        _available.Wait();
        lock (_lock)
        {
            if (_disposed)
            {
                _available.Release();
                throw new ObjectDisposedException(nameof(AlignedBufferPool));
            }
            if (_free.TryPop(out nint p)) return (byte*)p;
            try
            {
                var fresh = (byte*)NativeMemory.AlignedAlloc((nuint)BufferBytes, (nuint)Alignment);
                _all.Add((nint)fresh);
                return fresh;
            }
            catch
            {
                _available.Release();
                throw;
            }
        }
    }

    public void Return(byte* buffer)
    {
        lock (_lock)
        {
            if (!_all.Contains((nint)buffer)) throw new ArgumentException("not a buffer of this pool", nameof(buffer));
            _free.Push((nint)buffer);
        }
        _available.Release();
    }

    /// <summary>Frees every buffer. Call it only when no writer can still hold one.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (nint p in _all) NativeMemory.AlignedFree((void*)p);
            _all.Clear();
            _free.Clear();
        }
        _available.Dispose();
    }
}
