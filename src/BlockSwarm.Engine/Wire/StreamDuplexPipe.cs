using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// Adapts a duplex <see cref="Stream"/> the engine did not create (a <see cref="System.Net.Sockets.NetworkStream"/>
/// today, a TLS or swarm-key authenticated stream later) to an <see cref="IDuplexPipe"/>, with one receive pump
/// and one send pump, Kestrel style. Pause/resume thresholds on both pipes give back-pressure both ways.
/// Transport errors end the pumps and surface to the pipe's reader as exceptions, never crash the process.
/// Completing <see cref="Output"/> hangs up: the stream is disposed once queued bytes are written (unless left open).
/// </summary>
public sealed class StreamDuplexPipe : IDuplexPipe, IGatherSendTransport, IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly Socket? _socket;
    private readonly Security.SecureChannelStream? _secure;
    private readonly Socket? _secureSocket;
    private readonly bool _leaveOpen;
    private readonly PeerTransportOptions _options;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _receivePump;
    private readonly Task _sendPump;
    private int _disposed;
    private int _streamClosed;

    public StreamDuplexPipe(Stream stream, PeerTransportOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? PeerTransportOptions.Default;
        // Gather sends bypass the stream: only for a plain socket we own (a caller's open stream stays theirs to write).
        _socket = !leaveOpen && _options.GatherSend ? (stream as NetworkStream)?.Socket : null;
        // A secret swarm's encrypted stream gathers too: payloads are sealed straight from the read cache's buffers.
        _secure = !leaveOpen && _options.GatherSend ? stream as Security.SecureChannelStream : null;
        _secureSocket = (_secure?.InnerStream as NetworkStream)?.Socket;
        _input = new Pipe(new PipeOptions(
            pauseWriterThreshold: _options.InputPauseThreshold,
            resumeWriterThreshold: _options.InputResumeThreshold,
            minimumSegmentSize: _options.MinimumReadSize,
            readerScheduler: _options.InlineReader ? PipeScheduler.Inline : PipeScheduler.ThreadPool,
            useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(
            pauseWriterThreshold: _options.OutputPauseThreshold,
            resumeWriterThreshold: _options.OutputResumeThreshold,
            minimumSegmentSize: _options.MinimumWriteSegmentSize,
            useSynchronizationContext: false));
        _receivePump = Task.Run(ReceivePumpAsync);
        _sendPump = Task.Run(SendPumpAsync);
    }

    public PipeReader Input => _input.Reader;
    public PipeWriter Output => _output.Writer;

    /// <summary>
    /// True over a plain <see cref="NetworkStream"/> or a <see cref="Security.SecureChannelStream"/> this pipe owns (and
    /// <see cref="PeerTransportOptions.GatherSend"/>).
    /// </summary>
    public bool SupportsGatherSend => _socket != null || _secure != null;

    /// <inheritdoc/>
    public async ValueTask SendAsync(IList<ArraySegment<byte>> buffers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        if (_secure is { } secure)
        {
            // As below: a write in progress may finish until CloseTimeout, then closing the stream fails it.
            using var closeOnCancel = cancellationToken.UnsafeRegister(static state => ((StreamDuplexPipe)state!).CloseLater(), this);
            cancellationToken.ThrowIfCancellationRequested();
            await secure.WriteGatherAsync(buffers, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        Socket socket = _socket ?? throw new NotSupportedException("gather sends need a plain socket stream");
        long total = 0;
        foreach (var b in buffers) total += b.Count;
        // The socket overload taking a buffer list cannot be cancelled: let a send in progress finish as a pipe's
        // queued bytes may (up to CloseTimeout), then close the stream, which fails the send and ends the pumps.
        using var registration = cancellationToken.UnsafeRegister(static state => ((StreamDuplexPipe)state!).CloseLater(), this);
        cancellationToken.ThrowIfCancellationRequested();
        int sent = await socket.SendAsync(buffers, SocketFlags.None).ConfigureAwait(false);
        if (sent != total) throw new IOException($"short send: {sent} of {total} bytes");
    }

    /// <summary>
    /// True over a plain TCP socket (<c>sendfile</c>) and over a <see cref="Security.SecureChannelStream"/> this pipe owns
    /// (runs are read straight into its records and encrypted there).
    /// </summary>
    public bool SupportsFileSend => _secure != null || _socket is { ProtocolType: ProtocolType.Tcp };

    /// <inheritdoc/>
    public async ValueTask SendFileAsync(IList<ArraySegment<byte>> prefix, FileRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(run);
        if (!SupportsFileSend) throw new NotSupportedException("file sends need a plain TCP socket or a secure channel");
        if (_secure is { } secure)
        {
            // As SendAsync: a write in progress may finish until CloseTimeout, then closing the stream fails it.
            using var closeOnCancel = cancellationToken.UnsafeRegister(static state => ((StreamDuplexPipe)state!).CloseLater(), this);
            cancellationToken.ThrowIfCancellationRequested();
            await secure.WriteFileAsync(prefix, run.File.SafeFileHandle, run.Regions, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        if (prefix.Count > 0) await SendAsync(prefix, cancellationToken).ConfigureAwait(false);
        Socket socket = _socket!;
        using var registration = cancellationToken.UnsafeRegister(static state => ((StreamDuplexPipe)state!).CloseLater(), this);
        cancellationToken.ThrowIfCancellationRequested();
        var elements = new SendPacketsElement[run.Regions.Count];
        for (int i = 0; i < elements.Length; i++)
        {
            var (offset, length) = run.Regions[i];
            elements[i] = new SendPacketsElement(run.File, offset, length, endOfPacket: false);
        }
        // The socket's sendfile path: EAGAIN waits on the socket's readiness like any async send, no thread is held.
        // One operation object per connection, reused: only the send loop sends, one run at a time.
        await (_sendPackets ??= new SendPacketsOperation()).SendAsync(socket, elements, run.Length).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void SetCork(bool on)
    {
        if (_socket is not { } socket) return;
        try
        {
            TcpSocketOptions.SetInt(socket, TcpSocketOptions.Cork, on ? 1 : 0);
        }
        catch (SocketException)
        {
            // No TCP_CORK (not Linux): headers then simply go out in their own small segments.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <inheritdoc/>
    public bool TryGetUnsentBytes(out long unsent)
    {
        unsent = 0;
        return (_socket ?? _secureSocket) is { } socket && TcpSocketOptions.TryGetUnsentBytes(socket, out unsent);
    }

    private SendPacketsOperation? _sendPackets;

    /// <summary>A reusable SendPacketsAsync awaited as a value task; checks that every byte went out.</summary>
    private sealed class SendPacketsOperation : SocketAsyncEventArgs, IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private long _expected;

        public ValueTask SendAsync(Socket socket, SendPacketsElement[] elements, long expected)
        {
            _core.Reset();
            _expected = expected;
            SendPacketsElements = elements;
            if (!socket.SendPacketsAsync(this)) Finish();
            return new ValueTask(this, _core.Version);
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => Finish();

        private void Finish()
        {
            if (SocketError != SocketError.Success) _core.SetException(new SocketException((int)SocketError));
            else if (BytesTransferred != _expected) _core.SetException(new IOException($"short sendfile: {BytesTransferred} of {_expected} bytes"));
            else _core.SetResult(true);
        }

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);
        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);
        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private void CloseLater() => _ = CloseAfterTimeoutAsync();

    private async Task CloseAfterTimeoutAsync()
    {
        await Task.Delay(_options.CloseTimeout).ConfigureAwait(false);
        await CloseStreamAsync().ConfigureAwait(false);
    }

    /// <summary>Bytes the receive pipe may hold before the socket pump pauses.</summary>
    public long InputPauseThreshold => _options.InputPauseThreshold;

    private async Task ReceivePumpAsync()
    {
        PipeWriter writer = _input.Writer;
        CancellationToken ct = _cts.Token;
        Exception? error = null;
        // Frame-aware wake-ups need the socket and a zero-byte read to wait in (the low-water mark gates readiness).
        Socket? lowWaterSocket = _options.FrameLowWaterMax > 0 && _options.WaitForDataBeforeAllocating ? (_stream as NetworkStream)?.Socket : null;
        var frames = FrameBoundaryTracker.AfterConnect();
        int lowWater = 1;
        try
        {
            bool lastReadFilled = false;
            while (true)
            {
                if (lowWaterSocket != null)
                {
                    int want = frames.LowWaterMark(_options.FrameLowWaterMax);
                    if (want != lowWater) lowWater = SetLowWater(lowWaterSocket, want);
                }
                // After a read that filled its buffer more bytes are almost surely waiting: skip the zero-byte read
                // (one syscall per read while a peer streams); an idle or slow peer still holds no buffer.
                if (_options.WaitForDataBeforeAllocating && !lastReadFilled)
                    await _stream.ReadAsync(Memory<byte>.Empty, ct).ConfigureAwait(false);
                Memory<byte> memory = writer.GetMemory(_options.MinimumReadSize);
                int read = await _stream.ReadAsync(memory, ct).ConfigureAwait(false);
                if (read == 0) break;
                lastReadFilled = read == memory.Length;
                if (lowWaterSocket != null) frames.Advance(memory.Span[..read]);
                writer.Advance(read);
                FlushResult flush = await writer.FlushAsync(ct).ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Disposed: a clean end for the reader.
        }
        catch (Exception) when (Volatile.Read(ref _streamClosed) != 0)
        {
            // We hung up ourselves; the read was aborted.
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    /// <summary>Sets SO_RCVLOWAT; where the platform refuses, frame-aware wake-ups are simply off (returns the mark in force).</summary>
    private static int SetLowWater(Socket socket, int bytes)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
            return bytes;
        }
        catch (SocketException)
        {
            return bytes; // remembered as set: no retry per read
        }
        catch (ObjectDisposedException)
        {
            return bytes;
        }
    }

    private async Task SendPumpAsync()
    {
        PipeReader reader = _output.Reader;
        CancellationToken ct = _cts.Token;
        Exception? error = null;
        // A plain socket gets one gather send (sendmsg) per batch instead of one send per pipe segment.
        Socket? socket = (_stream as NetworkStream)?.Socket;
        var gather = new List<ArraySegment<byte>>();
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(ct).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    if (socket != null && !buffer.IsSingleSegment && TryGather(buffer, gather))
                    {
                        int sent = await socket.SendAsync(gather, SocketFlags.None).ConfigureAwait(false);
                        gather.Clear();
                        if (sent != buffer.Length) throw new IOException($"short send: {sent} of {buffer.Length} bytes");
                    }
                    else
                    {
                        foreach (ReadOnlyMemory<byte> segment in buffer)
                            await _stream.WriteAsync(segment, ct).ConfigureAwait(false);
                        // A no-op on sockets; pushes TLS or buffered wrappers.
                        await _stream.FlushAsync(ct).ConfigureAwait(false);
                    }
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            error = ex;
        }
        // The writer's next FlushAsync then reports IsCompleted: the connection treats that as a closed transport.
        await reader.CompleteAsync(error).ConfigureAwait(false);
        // The connection is done with the peer (or the stream broke): hang up, which also ends the receive pump.
        if (!_leaveOpen) await CloseStreamAsync().ConfigureAwait(false);
    }

    private static bool TryGather(in System.Buffers.ReadOnlySequence<byte> buffer, List<ArraySegment<byte>> gather)
    {
        gather.Clear();
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
            {
                gather.Clear();
                return false;
            }
            gather.Add(array);
        }
        return true;
    }

    private async ValueTask CloseStreamAsync()
    {
        if (Interlocked.Exchange(ref _streamClosed, 1) != 0) return;
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing a broken stream may throw again (TLS close_notify on a reset socket): nothing left to do.
        }
    }

    /// <summary>
    /// Lets queued output reach the stream (up to <see cref="PeerTransportOptions.CloseTimeout"/>), stops both
    /// pumps and disposes the stream unless it was to be left open.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _sendPump.WaitAsync(_options.CloseTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        await _cts.CancelAsync().ConfigureAwait(false);
        if (!_leaveOpen) await CloseStreamAsync().ConfigureAwait(false);
        await Task.WhenAll(_receivePump, _sendPump).ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        _cts.Dispose();
        _sendPackets?.Dispose();
    }
}
