using System.Buffers;
using System.Runtime.InteropServices;

using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// One gather write in the making: headers and small payloads are copied back to back into a pooled scratch
/// buffer; block payloads that live in arrays (read-cache leases, pooled blocks) are referenced, not copied, and
/// their owners are kept until the batch has been sent. <see cref="Clear"/> releases them and reuses the scratch.
/// </summary>
internal sealed class GatherBatch : IDisposable
{
    /// <summary>Payloads at least this long are referenced rather than copied into the scratch buffer.</summary>
    private const int ReferenceThreshold = 2048;

    private const int ScratchSize = 64 * 1024;

    private readonly List<ArraySegment<byte>> _segments = [];
    private readonly List<IDisposable> _owners = [];
    private readonly List<byte[]> _rented = [];
    private byte[]? _scratch = ArrayPool<byte>.Shared.Rent(ScratchSize);
    private int _used;
    private bool _lastIsScratch;

    public IList<ArraySegment<byte>> Segments => _segments;
    public long Bytes { get; private set; }
    public bool IsEmpty => _segments.Count == 0;

    /// <summary>Many segments make one sendmsg long; past this, send what is there (IOV_MAX is 1024).</summary>
    public bool IsFull => _segments.Count >= 512;

    /// <summary>Adds <paramref name="message"/>; takes over its payload owner (released now if the payload was copied, else by <see cref="Clear"/>).</summary>
    public void Add(in OutgoingMessage message)
    {
        if (_scratch == null)
        {
            message.PayloadOwner?.Dispose();
            throw new ObjectDisposedException(nameof(GatherBatch));
        }
        byte[] scratch = _scratch;
        ReadOnlyMemory<byte> payload = message.Payload;
        bool reference = payload.Length >= ReferenceThreshold && MemoryMarshal.TryGetArray(payload, out _);
        // Header (at most 17 bytes) plus the payload when it is to be copied and fits a scratch buffer at all.
        int inline = 17 + (reference || payload.Length > ScratchSize - 17 ? 0 : payload.Length);
        if (inline > ScratchSize - _used)
        {
            // The scratch is full: this batch continues in a fresh pooled buffer, returned on Clear.
            _rented.Add(scratch);
            scratch = _scratch = ArrayPool<byte>.Shared.Rent(ScratchSize);
            _used = 0;
            _lastIsScratch = false;
        }
        int header;
        try
        {
            header = MessageWriter.WriteHeader(scratch.AsSpan(_used), message);
        }
        catch
        {
            message.PayloadOwner?.Dispose();
            throw;
        }
        AppendScratch(header);
        if (message.File != null)
        {
            // Only the header goes into the batch; the caller sends the batch, then the run from its file.
            message.PayloadOwner?.Dispose();
            Bytes += header;
            return;
        }
        if (payload.IsEmpty)
        {
            message.PayloadOwner?.Dispose();
        }
        else if (reference)
        {
            MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> array);
            _segments.Add(array);
            _lastIsScratch = false;
            if (message.PayloadOwner is { } owner) _owners.Add(owner);
        }
        else if (payload.Length <= ScratchSize - _used)
        {
            payload.Span.CopyTo(scratch.AsSpan(_used));
            AppendScratch(payload.Length);
            message.PayloadOwner?.Dispose();
        }
        else
        {
            // A large payload that is not an array (rare: a bitfield of a huge torrent from native memory).
            byte[] copy = ArrayPool<byte>.Shared.Rent(payload.Length);
            payload.Span.CopyTo(copy);
            _rented.Add(copy);
            _segments.Add(new ArraySegment<byte>(copy, 0, payload.Length));
            _lastIsScratch = false;
            message.PayloadOwner?.Dispose();
        }
        Bytes += header + payload.Length;
    }

    private void AppendScratch(int count)
    {
        if (_lastIsScratch)
        {
            var last = _segments[^1];
            _segments[^1] = new ArraySegment<byte>(last.Array!, last.Offset, last.Count + count);
        }
        else
        {
            _segments.Add(new ArraySegment<byte>(_scratch!, _used, count));
            _lastIsScratch = true;
        }
        _used += count;
    }

    /// <summary>After a send (or to drop the batch): releases referenced payloads and extra buffers, empties the batch.</summary>
    public void Clear()
    {
        foreach (var owner in _owners) owner.Dispose();
        _owners.Clear();
        foreach (var array in _rented) ArrayPool<byte>.Shared.Return(array);
        _rented.Clear();
        _segments.Clear();
        _used = 0;
        _lastIsScratch = false;
        Bytes = 0;
    }

    public void Dispose()
    {
        Clear();
        if (Interlocked.Exchange(ref _scratch, null) is { } scratch) ArrayPool<byte>.Shared.Return(scratch);
    }
}
