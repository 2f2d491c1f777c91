using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;

using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// One peer: the handshake, then a receive loop (frames → <see cref="IPeerMessageHandler"/>) and a send loop
/// (queued <see cref="OutgoingMessage"/>s → transport, flushed in batches), keep-alives and a silence timeout.
/// The transport is a seam: any <see cref="IDuplexPipe"/> (or <see cref="Stream"/>) the engine did not create,
/// so an authenticated or encrypted stream can be slipped underneath without touching this class.
/// Whatever goes wrong ends in a <see cref="PeerConnectionResult"/> for this peer only.
/// </summary>
public sealed partial class PeerConnection : IAsyncDisposable
{
    private readonly IDuplexPipe _transport;
    private readonly IAsyncDisposable? _ownedTransport;
    private readonly IGatherSendTransport? _gather;
    private readonly PeerConnectionOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<OutgoingMessage> _sendQueue;
    private readonly CancellationTokenSource _closeCts = new();

    private long _wireBytesReceived;
    private long _payloadBytesReceived;
    private long _wireBytesSent;
    private long _payloadBytesSent;
    private long _queuedSendBytes;
    private TaskCompletionSource? _sendSpace;
    private long _sendSpaceLowWater;
    private long _lastReceiveTimestamp;
    private long _lastSendTimestamp;
    private int _running;
    private int _disposed;
    private volatile bool _timedOut;
    private volatile Exception? _sendError;
    private volatile bool _handlerPending;
    private volatile CancellationTokenSource? _runCts;

    public PeerConnection(IDuplexPipe transport, PeerConnectionOptions? options = null, TimeProvider? timeProvider = null)
        : this(transport, null, options, timeProvider)
    {
    }

    private PeerConnection(IDuplexPipe transport, IAsyncDisposable? ownedTransport, PeerConnectionOptions? options, TimeProvider? timeProvider)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _ownedTransport = ownedTransport;
        _options = options ?? PeerConnectionOptions.Default;
        _gather = transport is IGatherSendTransport { SupportsGatherSend: true } gather ? gather : null;
        _time = timeProvider ?? TimeProvider.System;
        _sendQueue = Channel.CreateUnbounded<OutgoingMessage>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _lastReceiveTimestamp = _lastSendTimestamp = _time.GetTimestamp();
    }

    /// <summary>A connection over <paramref name="stream"/>, which it wraps in a <see cref="StreamDuplexPipe"/> it owns and disposes.</summary>
    public static PeerConnection Create(Stream stream, PeerConnectionOptions? options = null, TimeProvider? timeProvider = null,
        PeerTransportOptions? transportOptions = null, bool leaveOpen = false)
    {
        var pipe = new StreamDuplexPipe(stream, transportOptions, leaveOpen);
        return new PeerConnection(pipe, pipe, options, timeProvider);
    }

    /// <summary>Our handshake, once exchanged.</summary>
    public Handshake? LocalHandshake { get; private set; }

    /// <summary>The peer's handshake (peer id, reserved bits), once exchanged.</summary>
    public Handshake? RemoteHandshake { get; private set; }

    /// <summary>Bytes read off the transport: frames, handshake, overhead included.</summary>
    public long WireBytesReceived => Interlocked.Read(ref _wireBytesReceived);

    /// <summary>Block bytes received in piece messages (what a transfer rate means). May differ from the wire once payload is compressed.</summary>
    public long PayloadBytesReceived => Interlocked.Read(ref _payloadBytesReceived);

    public long WireBytesSent => Interlocked.Read(ref _wireBytesSent);
    public long PayloadBytesSent => Interlocked.Read(ref _payloadBytesSent);

    /// <summary>Pieces may be sent from a file (<see cref="OutgoingMessage.Piece(int, int, FileRun)"/>) with <c>sendfile</c>; elsewhere they are read in.</summary>
    public bool SupportsFileSend => _gather is { SupportsFileSend: true };

    /// <summary>
    /// Bytes waiting for the path: written to the socket and not yet sent by the kernel (held back by the congestion or
    /// the receive window). Not what is queued here: the upload loop queues a whole run at a time, just before it asks.
    /// Without a socket to ask, what is queued here.
    /// </summary>
    public long SendBacklog => _gather is { } g && g.TryGetUnsentBytes(out long unsent) ? unsent : QueuedSendBytes;

    /// <summary>Bytes queued by <see cref="Send"/> and not yet written to the transport: the upload path throttles on it.</summary>
    public long QueuedSendBytes => Interlocked.Read(ref _queuedSendBytes);

    /// <summary>
    /// Outgoing handshake: sends ours, reads theirs and checks that the info-hash is ours.
    /// Throws <see cref="PeerProtocolException"/> (wrong protocol or info-hash), <see cref="TimeoutException"/>
    /// or a transport exception; the caller then disposes the connection.
    /// </summary>
    public async Task<Handshake> ConnectHandshakeAsync(Handshake local, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(local);
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await WriteHandshakeAsync(local, linked.Token).ConfigureAwait(false);
            Handshake remote = await ReadHandshakeAsync(linked.Token).ConfigureAwait(false);
            if (!remote.InfoHash.SequenceEqual(local.InfoHash))
                throw new PeerProtocolException($"handshake: peer answered for info-hash {Convert.ToHexStringLower(remote.InfoHash)}, not ours");
            LocalHandshake = local;
            RemoteHandshake = remote;
            return remote;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"handshake not completed within {_options.HandshakeTimeout}");
        }
    }

    /// <summary>
    /// Incoming handshake: reads theirs, asks <paramref name="selectLocal"/> for our handshake for that info-hash
    /// (null = not a torrent we serve: a <see cref="PeerProtocolException"/>), and sends it.
    /// </summary>
    public async Task<Handshake> AcceptHandshakeAsync(Func<Handshake, Handshake?> selectLocal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(selectLocal);
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            Handshake remote = await ReadHandshakeAsync(linked.Token).ConfigureAwait(false);
            Handshake local = selectLocal(remote)
                ?? throw new PeerProtocolException($"handshake: no torrent with info-hash {Convert.ToHexStringLower(remote.InfoHash)}");
            if (!remote.InfoHash.SequenceEqual(local.InfoHash))
                throw new InvalidOperationException("the local handshake must carry the info-hash the peer asked for");
            await WriteHandshakeAsync(local, linked.Token).ConfigureAwait(false);
            LocalHandshake = local;
            RemoteHandshake = remote;
            return remote;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"handshake not completed within {_options.HandshakeTimeout}");
        }
    }

    private async ValueTask WriteHandshakeAsync(Handshake handshake, CancellationToken cancellationToken)
    {
        if (_gather != null)
        {
            // Everything goes through gather sends on such a transport, so nothing can overtake the handshake.
            var bytes = new byte[Handshake.Length];
            handshake.Encode(bytes);
            await _gather.SendAsync([new ArraySegment<byte>(bytes)], cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _wireBytesSent, Handshake.Length);
            return;
        }
        PipeWriter output = _transport.Output;
        handshake.Encode(output.GetSpan(Handshake.Length));
        output.Advance(Handshake.Length);
        FlushResult flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("transport closed while sending the handshake");
        Interlocked.Add(ref _wireBytesSent, Handshake.Length);
    }

    private async ValueTask<Handshake> ReadHandshakeAsync(CancellationToken cancellationToken)
    {
        PipeReader input = _transport.Input;
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done;
            Handshake? handshake;
            try
            {
                done = Handshake.TryDecode(ref buffer, out handshake);
            }
            catch
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }
            if (done)
            {
                // Anything after the handshake (a bitfield sent right behind it) stays for the receive loop.
                input.AdvanceTo(buffer.Start);
                Interlocked.Add(ref _wireBytesReceived, Handshake.Length);
                _lastReceiveTimestamp = _time.GetTimestamp();
                return handshake!;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
                throw new PeerProtocolException($"connection closed during the handshake after {buffer.Length} bytes");
        }
    }

    /// <summary>
    /// Queues a message for the send loop; safe from any thread (choker, request scheduler, upload path).
    /// Returns false, and releases the payload owner, once the connection is closing.
    /// </summary>
    public bool Send(in OutgoingMessage message)
    {
        int length = message.WireLength;
        Interlocked.Add(ref _queuedSendBytes, length);
        if (_sendQueue.Writer.TryWrite(message)) return true;
        Interlocked.Add(ref _queuedSendBytes, -length);
        message.PayloadOwner?.Dispose();
        return false;
    }

    /// <summary>
    /// Waits while more than <paramref name="highWater"/> bytes are queued for this peer and not yet taken by the send
    /// loop, until the queue is down to half that (or the connection closes). The upload loop waits here before it reads
    /// the next block, so a peer slower than the disk holds at most about <paramref name="highWater"/> bytes of block
    /// buffers in its queue instead of every block it asked for.
    /// </summary>
    public ValueTask WaitForSendSpaceAsync(long highWater, CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _queuedSendBytes) <= highWater || _sendQueue.Reader.Completion.IsCompleted) return ValueTask.CompletedTask;
        return WaitForSendSpaceSlowAsync(highWater, cancellationToken);
    }

    private async ValueTask WaitForSendSpaceSlowAsync(long highWater, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _queuedSendBytes) > highWater && !_sendQueue.Reader.Completion.IsCompleted)
        {
            Volatile.Write(ref _sendSpaceLowWater, highWater / 2);
            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var waiting = Interlocked.CompareExchange(ref _sendSpace, mine, null) ?? mine;
            // Published first, then re-read (both full fences): a send loop that drained the queue in between either
            // saw the waiter and completed it, or its decrement is visible here.
            if (Interlocked.Read(ref _queuedSendBytes) <= highWater / 2 || _closeCts.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref _sendSpace, null, waiting);
                return;
            }
            await waiting.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The send loop took bytes off the queue: wake an upload loop waiting for space once the low water is reached.</summary>
    private void OnSendQueueShrunk(long remaining)
    {
        if (Volatile.Read(ref _sendSpace) is null || remaining > Volatile.Read(ref _sendSpaceLowWater)) return;
        Interlocked.Exchange(ref _sendSpace, null)?.TrySetResult();
    }

    /// <summary>Wakes any upload loop waiting for send space (the connection is closing: its next Send returns false).</summary>
    private void ReleaseSendSpaceWaiter() => Interlocked.Exchange(ref _sendSpace, null)?.TrySetResult();

    /// <summary>Ends <see cref="RunAsync"/> with <see cref="PeerCloseReason.LocalClose"/>.</summary>
    public void Close()
    {
        try
        {
            _closeCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: already closed.
        }
    }

    /// <summary>
    /// Runs the receive loop, the send loop and the idle timer until the peer closes, breaks the protocol,
    /// falls silent, the transport fails, <see cref="Close"/> is called or <paramref name="cancellationToken"/>
    /// fires. Never throws for any of those: the outcome is the result. Call once, after the handshake.
    /// </summary>
    public Task<PeerConnectionResult> RunAsync(IPeerMessageHandler handler, MessageLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(limits);
        if (_transport is StreamDuplexPipe pipe && pipe.InputPauseThreshold <= limits.MaxFrameLength + 4L)
            throw new ArgumentException($"the transport pauses at {pipe.InputPauseThreshold} bytes, below the largest frame ({limits.MaxFrameLength + 4}): it would stall", nameof(limits));
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("RunAsync was already called");
        return RunCoreAsync(handler, limits, cancellationToken);
    }

    private async Task<PeerConnectionResult> RunCoreAsync(IPeerMessageHandler handler, MessageLimits limits, CancellationToken cancellationToken)
    {
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closeCts.Token);
        CancellationToken ct = runCts.Token;
        var reader = new MessageReader(limits);
        _lastReceiveTimestamp = _lastSendTimestamp = _time.GetTimestamp();
        PeerConnectionResult result;
        Task sendLoop = Task.CompletedTask;
        try
        {
            _runCts = runCts;
            using ITimer timer = _time.CreateTimer(static state => ((PeerConnection)state!).OnIdleTimer(),
                this, _options.IdleCheckInterval, _options.IdleCheckInterval);
            sendLoop = _gather != null ? GatherSendLoopAsync(_gather, runCts) : SendLoopAsync(runCts);
            try
            {
                result = await ReceiveLoopAsync(handler, reader, ct).ConfigureAwait(false);
            }
            catch (PeerProtocolException ex)
            {
                result = new(PeerCloseReason.ProtocolViolation, ex);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                result = _sendError is { } sendError ? new(PeerCloseReason.TransportError, sendError)
                    : _timedOut ? new(PeerCloseReason.Timeout, new TimeoutException($"nothing received for {_options.ReceiveTimeout}"))
                    : new(PeerCloseReason.LocalClose);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException
                or System.Security.Authentication.AuthenticationException)
            {
                result = new(PeerCloseReason.TransportError, ex);
            }
            catch (Exception ex)
            {
                result = new(PeerCloseReason.HandlerError, ex);
            }
        }
        finally
        {
            _runCts = null;
            await runCts.CancelAsync().ConfigureAwait(false);
            _sendQueue.Writer.TryComplete();
            await sendLoop.ConfigureAwait(false);
            while (_sendQueue.Reader.TryRead(out var dropped))
            {
                Interlocked.Add(ref _queuedSendBytes, -dropped.WireLength);
                dropped.PayloadOwner?.Dispose();
            }
            ReleaseSendSpaceWaiter();
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        return result;
    }

    private async Task<PeerConnectionResult> ReceiveLoopAsync(IPeerMessageHandler handler, MessageReader reader, CancellationToken ct)
    {
        PipeReader input = _transport.Input;
        long unconsumed = 0;
        while (true)
        {
            ReadResult result = await input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long arrived = buffer.Length - unconsumed;
            if (arrived > 0)
            {
                Interlocked.Add(ref _wireBytesReceived, arrived);
                Volatile.Write(ref _lastReceiveTimestamp, _time.GetTimestamp());
            }
            try
            {
                while (reader.TryRead(ref buffer, out PeerMessage message))
                {
                    if (message.Kind == MessageKind.Piece) Interlocked.Add(ref _payloadBytesReceived, message.Length);
                    // BEP 3: ignore unknown ids; port (DHT) is parsed and ignored; keep-alive only resets the clock.
                    if (!message.IsKnown || message.Kind is MessageKind.KeepAlive or MessageKind.Port) continue;
                    ValueTask handled = handler.OnMessageAsync(this, message, ct);
                    if (handled.IsCompletedSuccessfully) handled.GetAwaiter().GetResult();
                    else await AwaitHandlerAsync(handled).ConfigureAwait(false);
                }
            }
            finally
            {
                // Consumed up to the last whole frame; everything was examined, so the next read waits for more bytes.
                unconsumed = buffer.Length;
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (result.IsCanceled) return new(PeerCloseReason.LocalClose);
            if (result.IsCompleted)
            {
                return unconsumed == 0
                    ? new(PeerCloseReason.RemoteClose)
                    : new(PeerCloseReason.ProtocolViolation, new PeerProtocolException($"connection closed inside a frame ({unconsumed} bytes left over)"));
            }
        }
    }

    private async ValueTask AwaitHandlerAsync(ValueTask handled)
    {
        _handlerPending = true;
        try
        {
            await handled.ConfigureAwait(false);
        }
        finally
        {
            _handlerPending = false;
            Volatile.Write(ref _lastReceiveTimestamp, _time.GetTimestamp());
        }
    }

    private void OnIdleTimer()
    {
        if (_runCts is not { } runCts) return;
        long now = _time.GetTimestamp();
        // A handler holding the loop (cache full, disk behind) is our back-pressure, not the peer's silence.
        if (!_handlerPending && _time.GetElapsedTime(Volatile.Read(ref _lastReceiveTimestamp), now) >= _options.ReceiveTimeout)
        {
            _timedOut = true;
            try
            {
                runCts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
            return;
        }
        if (_time.GetElapsedTime(Volatile.Read(ref _lastSendTimestamp), now) >= _options.KeepAliveInterval)
        {
            Volatile.Write(ref _lastSendTimestamp, now);
            Send(OutgoingMessage.KeepAlive);
        }
    }

    /// <summary>Closes (if still running), releases queued payloads and disposes a transport this connection created.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _closeCts.CancelAsync().ConfigureAwait(false);
        _sendQueue.Writer.TryComplete();
        while (_sendQueue.Reader.TryRead(out var dropped)) dropped.PayloadOwner?.Dispose();
        ReleaseSendSpaceWaiter();
        if (_ownedTransport is not null) await _ownedTransport.DisposeAsync().ConfigureAwait(false);
        _closeCts.Dispose();
    }
}
