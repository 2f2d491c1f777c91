using Microsoft.Extensions.Logging;

namespace BlockSwarm.Clonezilla.Serving;

/// <summary>
/// A forward-only decoded stream read by offset: one cursor, a ring of the last <c>windowBytes</c> decoded bytes
/// behind it, and restarts from the best restart point when a read falls further back (or so far ahead that a restart
/// point beyond the cursor is closer). Reads are serialized: decoding is one sequential pass at a time.
/// </summary>
/// <remarks>
/// An origin that reveals its pieces in stream order (the engine's <c>PieceReveal</c>) keeps nearly every read inside
/// the ring or just ahead of the cursor; a restart is logged, because on a single-frame zstd stream it re-decodes the
/// partition from its start.
/// </remarks>
public sealed class DecodedStream : IDisposable
{
    private readonly Lock _gate = new();
    private readonly IRestartPoints _restarts;
    private readonly int _windowBytes;
    private byte[]? _ring;
    private readonly ILogger _log;
    private IForwardReader? _reader;
    private long _cursor;
    private long _filled;
    private long _restartCount;
    private long _decoded;
    private bool _disposed;
    private bool _passThrough;

    public DecodedStream(string name, long length, IRestartPoints restarts, int windowBytes, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(restarts);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowBytes, 1 << 20);
        Name = name;
        Length = length;
        _restarts = restarts;
        _windowBytes = windowBytes;
        _log = log;
    }

    public string Name { get; }
    public long Length { get; }
    /// <summary>The ring's size; it is allocated on the first read (a partition never read costs nothing).</summary>
    public int WindowBytes => _windowBytes;

    /// <summary>Times decoding restarted at a restart point (the first opening included).</summary>
    public long Restarts => Interlocked.Read(ref _restartCount);

    /// <summary>Bytes decoded so far (a stream served once costs its length; every restart adds to it).</summary>
    public long BytesDecoded => Interlocked.Read(ref _decoded);

    /// <summary>Fills <paramref name="destination"/> with the decoded bytes at <paramref name="offset"/>.</summary>
    public void Read(long offset, Span<byte> destination)
    {
        if (offset < 0 || offset > Length - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Name}: [{offset}, +{destination.Length}) is outside the {Length} decoded bytes");
        if (destination.Length > _windowBytes)
            throw new ArgumentException($"{Name}: a read of {destination.Length} bytes is larger than the {_windowBytes}-byte window", nameof(destination));
        if (destination.IsEmpty) return;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long end = offset + destination.Length;
            long restart = _restarts.BestAtOrBefore(offset);
            bool behind = _reader is null || offset < _cursor - _filled;
            if (behind || restart > _cursor) Restart(restart, offset);
            if (_passThrough && offset == _cursor)
            {
                DecodeInto(destination);
                return;
            }
            _ring ??= GC.AllocateUninitializedArray<byte>(_windowBytes);
            while (_cursor < end) Decode();
            CopyOut(offset, destination);
        }
    }

    /// <summary>
    /// While true, a read that starts at the cursor is decoded straight into the caller's buffer and nothing is kept
    /// behind the cursor (the window empties): for one pass over the stream that never looks back — hashing the whole
    /// job — it saves copying every byte into the window and out again (about a tenth of that pass's CPU on the bench's
    /// zstd image: bench/README.md, clonezilla), and the window's memory. Other reads work as always; a read behind the
    /// cursor restarts.
    /// </summary>
    public bool PassThrough
    {
        get { lock (_gate) return _passThrough; }
        set { lock (_gate) _passThrough = value; }
    }

    private void DecodeInto(Span<byte> destination)
    {
        _filled = 0;
        while (!destination.IsEmpty)
        {
            int n = _reader!.Read(destination);
            if (n <= 0) throw new ClonezillaFormatException($"{Name}: the stream ends at decoded byte {_cursor} of {Length}");
            _cursor += n;
            Interlocked.Add(ref _decoded, n);
            destination = destination[n..];
        }
    }

    private void Restart(long restart, long wanted)
    {
        if (_reader != null)
        {
            LogRestart(wanted, restart);
            _reader.Dispose();
        }
        _reader = _restarts.OpenAt(restart);
        _cursor = restart;
        _filled = 0;
        Interlocked.Increment(ref _restartCount);
    }

    private void LogRestart(long wanted, long restart)
    {
        if (restart < _cursor - _filled)
            ServingLog.Restart(_log, Name, wanted, _cursor, restart, (wanted - restart) >> 20);
    }

    private void Decode()
    {
        var ring = _ring!;
        int at = (int)(_cursor % ring.Length);
        int chunk = (int)Math.Min(Math.Min(ring.Length - at, 1 << 20), Length - _cursor);
        int n = _reader!.Read(ring.AsSpan(at, chunk));
        if (n <= 0) throw new ClonezillaFormatException($"{Name}: the stream ends at decoded byte {_cursor} of {Length}");
        _cursor += n;
        _filled = Math.Min(ring.Length, _filled + n);
        Interlocked.Add(ref _decoded, n);
    }

    private void CopyOut(long offset, Span<byte> destination)
    {
        var ring = _ring!;
        int at = (int)(offset % ring.Length);
        int first = Math.Min(destination.Length, ring.Length - at);
        ring.AsSpan(at, first).CopyTo(destination);
        if (first < destination.Length) ring.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _reader?.Dispose();
            _reader = null;
            _ring = null;
        }
    }
}
