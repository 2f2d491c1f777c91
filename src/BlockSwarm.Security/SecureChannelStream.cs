using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Security;

/// <summary>
/// The encrypted, authenticated byte stream of a secret-swarm connection, once <see cref="SecureChannel"/> agreed on
/// keys. Bytes travel in records:
/// <code>  length (4 bytes, big-endian, 1…65536) ‖ ciphertext (length bytes) ‖ tag (16 bytes)</code>
/// sealed with the suite the handshake agreed on (<see cref="Suite"/>: AES-128-OCB or AES-256-GCM). The nonce is the record's number in its direction (a 96-bit counter from 0), never sent: a record replayed, dropped,
/// reordered or moved to the other direction (its own key) fails its tag. The length is authenticated as associated
/// data. A record that fails ends the stream with a <see cref="SecureChannelException"/>; nothing of it is returned.
/// <para>
/// Writes are encrypted into an output buffer and reach the inner stream in large writes (when it fills, and on
/// <see cref="FlushAsync(CancellationToken)"/>): short writes (message headers) are gathered into an open record and
/// sealed in place; long ones are sealed straight from the caller's buffer (<see cref="WriteGatherAsync"/>); file runs
/// are read into the open record and sealed there (<see cref="WriteFileAsync"/>, the channel's <c>sendfile</c>). Reads
/// decrypt whole records straight into the caller's buffer when it has room. A zero-byte read waits for data without holding a buffer, as on a socket. One reader and one writer
/// may run at once (a duplex pump), not two of either (a second writer is refused: it would reuse nonces).
/// </para>
/// </summary>
public sealed class SecureChannelStream : Stream
{
    /// <summary>Largest plaintext of one record: big enough that the per-record cost vanishes, small enough to buffer.</summary>
    public const int MaxRecordPlaintext = 64 * 1024;
    public const int HeaderLength = 4;
    public const int TagLength = 16;
    public const int RecordOverhead = HeaderLength + TagLength;
    private const int MaxRecordLength = MaxRecordPlaintext + RecordOverhead;
    // 512 KiB exactly (an ArrayPool bucket): a 256 KiB run with its message header (five records) goes out in one write.
    private const int OutputBufferLength = 512 * 1024;
    private const int InputBufferLength = 256 * 1024;

    private readonly Stream _inner;
    private readonly RecordCipher _sendCipher;
    private readonly RecordCipher _receiveCipher;
    private ulong _sendCounter;
    private ulong _receiveCounter;

    // Output: [0, _outLength) sealed records waiting for the inner stream, then the open record (plaintext being
    // gathered at _outLength + HeaderLength, _openLength bytes so far; sealed in place when full or sent).
    private byte[]? _out;
    private int _outLength;
    private int _openLength;

    // Input: [_inStart, _inEnd) received bytes; [_plainStart, _plainEnd) a decrypted record not yet returned.
    private byte[]? _in;
    private int _inStart, _inEnd, _plainStart, _plainEnd;
    private bool _innerEnded;
    private int _disposed;
    private int _writing;

    internal SecureChannelStream(Stream inner, CipherSuite suite, byte[] sendKey, byte[] receiveKey)
    {
        _inner = inner;
        Suite = suite;
        try
        {
            _sendCipher = RecordCipher.Create(suite, sendKey, sealing: true);
            _receiveCipher = RecordCipher.Create(suite, receiveKey, sealing: false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sendKey);
            CryptographicOperations.ZeroMemory(receiveKey);
        }
    }

    /// <summary>The AEAD the handshake agreed on.</summary>
    public CipherSuite Suite { get; }

    /// <summary>The stream underneath (the socket's), e.g. to ask the kernel about its queue.</summary>
    public Stream InnerStream => _inner;

    /// <summary>Records sent and received so far.</summary>
    public ulong RecordsSent => _sendCounter;
    public ulong RecordsReceived => _receiveCounter;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Flush() => FlushAsync().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        EnterWriter();
        try
        {
            await WriteSegmentAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>
    /// One writer at a time, enforced: two would give two records the same nonce (the counter is not atomic), which breaks
    /// AES-GCM outright, and could return the output buffer to the pool twice.
    /// </summary>
    private void EnterWriter()
    {
        if (Interlocked.Exchange(ref _writing, 1) != 0)
            throw new InvalidOperationException("a secure channel has one writer at a time (a write, gather write or flush is in progress)");
    }

    /// <summary>Segments shorter than this (message headers) are copied into the open record; longer ones are sealed where they are.</summary>
    private const int GatherCopyBelow = 4096;

    /// <summary>
    /// Short segments join the open record (sealed once full or sent); long ones (block payloads) close it and are
    /// encrypted straight out of the caller's buffer into the output buffer, without a copy first.
    /// </summary>
    private ValueTask WriteSegmentAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        if (segment.Length < GatherCopyBelow) return AppendAsync(segment, cancellationToken);
        SealOpenRecord();
        return SealFromAsync(segment, cancellationToken);
    }

    /// <summary>Copies <paramref name="data"/> into the open record (opening records, sending full output buffers, as needed).</summary>
    private async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int room = PrepareAppend(data.Length);
            if (room == 0)
            {
                await WriteOutAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            int n = Math.Min(room, data.Length);
            data.Span[..n].CopyTo(_out.AsSpan(_outLength + HeaderLength + _openLength, n));
            _openLength += n;
            data = data[n..];
        }
    }

    /// <summary>Seals <paramref name="buffer"/> into whole records in the output buffer, reading it where it is.</summary>
    private async ValueTask SealFromAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            _out ??= ArrayPool<byte>.Shared.Rent(OutputBufferLength);
            int room = _out.Length - _outLength - RecordOverhead;
            if (room < Math.Min(buffer.Length, GatherCopyBelow))
            {
                await WriteOutAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            int take = Math.Min(Math.Min(buffer.Length, MaxRecordPlaintext), room);
            Seal(buffer.Span[..take], _out.AsSpan(_outLength, take + RecordOverhead));
            _outLength += take + RecordOverhead;
            buffer = buffer[take..];
        }
    }

    /// <summary>
    /// Room for plaintext in the open record, opening one (and sealing a full one) as needed: at least 1, or 0 when the
    /// output buffer must be sent first. A new record is not begun in a sliver of the buffer (less than
    /// <paramref name="wanted"/> bytes or 4 KiB).
    /// </summary>
    private int PrepareAppend(int wanted)
    {
        _out ??= ArrayPool<byte>.Shared.Rent(OutputBufferLength);
        while (true)
        {
            int recordMax = Math.Min(MaxRecordPlaintext, _out.Length - _outLength - RecordOverhead);
            if (_openLength > 0)
            {
                if (_openLength < recordMax) return recordMax - _openLength;
                SealOpenRecord();
                continue;
            }
            return recordMax >= Math.Min(wanted, GatherCopyBelow) && recordMax > 0 ? recordMax : 0;
        }
    }

    /// <summary>Encrypts the open record where its plaintext was gathered (in place): header ‖ ciphertext ‖ tag.</summary>
    private void SealOpenRecord()
    {
        if (_openLength == 0) return;
        Span<byte> record = _out.AsSpan(_outLength, _openLength + RecordOverhead);
        Span<byte> nonce = stackalloc byte[12];
        SecureChannel.WriteNonce(nonce, _sendCounter++);
        BinaryPrimitives.WriteInt32BigEndian(record, _openLength);
        Span<byte> text = record.Slice(HeaderLength, _openLength);
        _sendCipher.Encrypt(nonce, text, text, record.Slice(HeaderLength + _openLength, TagLength), record[..HeaderLength]);
        _outLength += _openLength + RecordOverhead;
        _openLength = 0;
    }

    /// <summary>
    /// Writes <paramref name="buffers"/> in order and pushes them to the inner stream: the gather send of a
    /// <c>sendmsg</c>-style transport. Long segments (block payloads leased from a read cache) are encrypted straight out
    /// of their buffers — no copy into a send pipe first — and runs of short ones (message headers) are gathered into one
    /// record. The inner stream is not flushed (a socket needs none).
    /// </summary>
    public async ValueTask WriteGatherAsync(IList<ArraySegment<byte>> buffers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        EnterWriter();
        try
        {
            foreach (ArraySegment<byte> segment in buffers)
                await WriteSegmentAsync(segment.AsMemory(), cancellationToken).ConfigureAwait(false);
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            ReleaseOutput();
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>
    /// The <c>sendfile</c> of a secure channel: writes <paramref name="prefix"/> (as <see cref="WriteGatherAsync"/>),
    /// then the bytes of <paramref name="regions"/> of <paramref name="file"/>, read (<c>pread</c>) straight into the
    /// records of the output buffer and encrypted there in place — no buffer of the caller's, no second copy — and
    /// pushes everything to the inner stream. A prefix ending in a message header shares its record with the first
    /// file bytes. A region the file no longer holds (truncated) fails with an <see cref="EndOfStreamException"/>.
    /// </summary>
    public async ValueTask WriteFileAsync(IList<ArraySegment<byte>> prefix, SafeFileHandle file, IReadOnlyList<(long Offset, int Length)> regions,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(regions);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        EnterWriter();
        try
        {
            foreach (ArraySegment<byte> segment in prefix)
                await WriteSegmentAsync(segment.AsMemory(), cancellationToken).ConfigureAwait(false);
            foreach (var (offset, length) in regions)
            {
                long at = offset;
                int remaining = length;
                while (remaining > 0)
                {
                    int room = PrepareAppend(remaining);
                    if (room == 0)
                    {
                        await WriteOutAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    int n = Math.Min(room, remaining);
                    ReadFileExactly(file, _out.AsSpan(_outLength + HeaderLength + _openLength, n), at);
                    _openLength += n;
                    at += n;
                    remaining -= n;
                }
            }
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            ReleaseOutput();
        }
        catch
        {
            // The message promised bytes it cannot carry now: nothing more of it may go out (the connection ends).
            _openLength = 0;
            _outLength = 0;
            throw;
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private static void ReadFileExactly(SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(file, destination, offset);
            if (n == 0) throw new EndOfStreamException($"the file ends before offset {offset} (truncated while it was being sent?)");
            destination = destination[n..];
            offset += n;
        }
    }

    /// <summary>Between batches the connection holds no output buffer.</summary>
    private void ReleaseOutput()
    {
        if (_out is { } buffer && _outLength == 0 && _openLength == 0)
        {
            _out = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        EnterWriter();
        try
        {
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            // An idle connection holds no output buffer.
            ReleaseOutput();
            await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private async ValueTask WriteOutAsync(CancellationToken cancellationToken)
    {
        SealOpenRecord();
        if (_outLength == 0) return;
        await _inner.WriteAsync(_out.AsMemory(0, _outLength), cancellationToken).ConfigureAwait(false);
        _outLength = 0;
    }

    private void Seal(ReadOnlySpan<byte> plaintext, Span<byte> record)
    {
        Span<byte> nonce = stackalloc byte[12];
        SecureChannel.WriteNonce(nonce, _sendCounter++);
        BinaryPrimitives.WriteInt32BigEndian(record, plaintext.Length);
        _sendCipher.Encrypt(nonce, plaintext, record.Slice(HeaderLength, plaintext.Length),
            record.Slice(HeaderLength + plaintext.Length, TagLength), record[..HeaderLength]);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_plainEnd > _plainStart)
        {
            if (buffer.IsEmpty) return 0;
            int n = Math.Min(buffer.Length, _plainEnd - _plainStart);
            _in.AsSpan(_plainStart, n).CopyTo(buffer.Span);
            _plainStart += n;
            if (_plainStart == _plainEnd) ReleaseInputIfEmpty();
            return n;
        }
        if (buffer.IsEmpty)
        {
            // Wait for data as a socket would: holding no buffer while idle, and with part of a record here, until the
            // rest came (else the caller would rent its buffer for a read that waits too).
            if (_inEnd == _inStart && !_innerEnded) await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            else while (!_innerEnded && !TryPeekRecord(out _)) await FillAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        while (true)
        {
            int written = 0;
            while (TryPeekRecord(out int length))
            {
                if (written + length > buffer.Length)
                {
                    if (written > 0) return written;
                    // The caller's buffer is smaller than the record: decrypt in place, hand it out piecewise.
                    Open(length, _in.AsSpan(_inStart + HeaderLength, length));
                    _plainStart = _inStart + HeaderLength;
                    _plainEnd = _plainStart + length;
                    _inStart += length + RecordOverhead;
                    return await ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                Open(length, buffer.Span.Slice(written, length));
                _inStart += length + RecordOverhead;
                written += length;
            }
            if (written > 0)
            {
                ReleaseInputIfEmpty();
                return written;
            }
            if (_innerEnded)
            {
                if (_inEnd > _inStart)
                    throw new SecureChannelException(SecureChannelFailure.BadRecord, $"the peer hung up inside encrypted record {_receiveCounter} ({_inEnd - _inStart} bytes of it received)");
                return 0;
            }
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when a whole record is buffered; <paramref name="length"/> is its plaintext length (checked).</summary>
    private bool TryPeekRecord(out int length)
    {
        length = 0;
        int available = _inEnd - _inStart;
        if (available < HeaderLength) return false;
        length = BinaryPrimitives.ReadInt32BigEndian(_in.AsSpan(_inStart, HeaderLength));
        if (length is <= 0 or > MaxRecordPlaintext)
            throw new SecureChannelException(SecureChannelFailure.BadRecord, $"encrypted record {_receiveCounter} claims {length} bytes (1…{MaxRecordPlaintext}): tampered with, or not from our peer");
        return available >= length + RecordOverhead;
    }

    private void Open(int length, Span<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[12];
        SecureChannel.WriteNonce(nonce, _receiveCounter);
        ReadOnlySpan<byte> record = _in.AsSpan(_inStart, length + RecordOverhead);
        try
        {
            _receiveCipher.Decrypt(nonce, record.Slice(HeaderLength, length), record.Slice(HeaderLength + length, TagLength), plaintext, record[..HeaderLength]);
        }
        catch (AuthenticationTagMismatchException ex)
        {
            plaintext.Clear();
            throw new SecureChannelException(SecureChannelFailure.BadRecord, $"encrypted record {_receiveCounter} ({length} bytes) failed authentication: altered on the way, replayed or not from our peer", ex);
        }
        _receiveCounter++;
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_in is null)
        {
            _in = ArrayPool<byte>.Shared.Rent(InputBufferLength);
            _inStart = _inEnd = 0;
        }
        else if (_inStart > 0 && _in.Length - _inEnd < MaxRecordLength)
        {
            // Move the partial record to the front so the rest of it fits.
            Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
        }
        int read = await _inner.ReadAsync(_in.AsMemory(_inEnd), cancellationToken).ConfigureAwait(false);
        if (read == 0) _innerEnded = true;
        _inEnd += read;
    }

    private void ReleaseInputIfEmpty()
    {
        if (_in is null || _inEnd != _inStart || _plainEnd != _plainStart) return;
        ArrayPool<byte>.Shared.Return(_in);
        _in = null;
        _inStart = _inEnd = _plainStart = _plainEnd = 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // A pump may still be inside a read or write: its buffers are left to the GC rather than returned to the pool.
            _inner.Dispose();
            _sendCipher.Dispose();
            _receiveCipher.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
            _sendCipher.Dispose();
            _receiveCipher.Dispose();
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
