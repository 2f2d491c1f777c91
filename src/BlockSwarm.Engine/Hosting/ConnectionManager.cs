using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Session;
using BlockSwarm.Security;
using BlockSwarm.Engine.Wire;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// Every peer connection of an engine, from accept or dial to close: the listeners' accept loops, outgoing dials, and
/// the task of each connection, kept until it ends (as Kestrel's transport connection manager does) so that removing
/// a torrent or stopping the engine awaits them instead of polling. An incoming connection is routed to its torrent
/// by the info-hash of its handshake; an unknown info-hash is closed before a byte is sent.
/// </summary>
internal sealed class ConnectionManager
{
    private readonly TorrentEngine _engine;
    private readonly EngineOptions _options;
    private readonly ILogger _log;
    private readonly EngineMetrics _metrics;
    private readonly ConcurrentDictionary<long, TrackedConnection> _connections = new();
    private readonly List<(TcpListener Listener, Task Loop)> _listeners = [];
    private long _nextId;

    public ConnectionManager(TorrentEngine engine, EngineOptions options, EngineMetrics metrics, ILogger log)
    {
        _engine = engine;
        _options = options;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>Open connections, handshaking ones included.</summary>
    public int Count => _connections.Count;

    /// <summary>Starts accepting on <paramref name="endPoint"/>; returns the bound endpoint (port 0 resolved).</summary>
    public IPEndPoint Listen(IPEndPoint endPoint, CancellationToken stop)
    {
        var listener = new TcpListener(endPoint);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(512);
        var bound = (IPEndPoint)listener.LocalEndpoint;
        lock (_listeners) _listeners.Add((listener, AcceptLoopAsync(listener, bound, stop)));
        return bound;
    }

    /// <summary>Stops accepting (the listening sockets close) and waits for the accept loops to end.</summary>
    public async Task StopListeningAsync()
    {
        List<(TcpListener Listener, Task Loop)> listeners;
        lock (_listeners) listeners = [.. _listeners];
        foreach (var (listener, _) in listeners) listener.Stop();
        foreach (var (_, loop) in listeners) await loop.ConfigureAwait(false);
    }

    /// <summary>Dials <paramref name="endPoint"/> for <paramref name="session"/>; <paramref name="state"/> records the outcome for backoff.</summary>
    public void Dial(TorrentSession session, IPEndPoint endPoint, DialState state) =>
        Track(endPoint, session, tracked => DialAsync(session, endPoint, state));

    /// <summary>Completes when every connection of <paramref name="owner"/> (every connection at all, when null) has ended.</summary>
    public Task WaitAsync(TorrentSession? owner)
    {
        var tasks = new List<Task>();
        foreach (var c in _connections.Values)
            if (owner is null || ReferenceEquals(c.Owner, owner)) tasks.Add(c.Done.Task);
        return Task.WhenAll(tasks);
    }

    private async Task AcceptLoopAsync(TcpListener listener, IPEndPoint local, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted && ct.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of descriptors (EMFILE) and the like: say so once per failure and pause, instead of spinning.
                EngineLog.AcceptFailed(_log, local, ex.Message);
                try { await Task.Delay(TimeSpan.FromMilliseconds(100), _options.Time, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            var remote = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
            Track(remote, null, tracked => RunIncomingAsync(socket, tracked, ct));
        }
    }

    private void Track(IPEndPoint remote, TorrentSession? owner, Func<TrackedConnection, Task> run)
    {
        var tracked = new TrackedConnection(Interlocked.Increment(ref _nextId), remote) { Owner = owner };
        _connections[tracked.Id] = tracked;
        _ = RunTrackedAsync(tracked, run);
    }

    private async Task RunTrackedAsync(TrackedConnection tracked, Func<TrackedConnection, Task> run)
    {
        try
        {
            // Off the accept loop (or the caller's tick) at once: a handshake never holds up the next accept.
            await Task.Yield();
            await run(tracked).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Every expected failure is handled inside; anything else is a bug, and still must not kill the process.
            EngineLog.HandlerFailed(_log, tracked.Owner?.Name ?? "-", tracked.Remote, ex.Message, ex);
        }
        finally
        {
            _connections.TryRemove(tracked.Id, out _);
            tracked.Done.TrySetResult();
        }
    }

    private async Task RunIncomingAsync(Socket socket, TrackedConnection tracked, CancellationToken ct)
    {
        var remote = tracked.Remote;
        var localAddress = (socket.LocalEndPoint as IPEndPoint)?.Address;
        if (_connections.Count > _options.MaxConnections)
        {
            EngineLog.OverConnectionLimit(_log, remote, _connections.Count - 1, _options.MaxConnections);
            _metrics.Refused("engine_limit");
            socket.Dispose();
            return;
        }
        if (_options.SwarmSecret is not null && Interlocked.Increment(ref _unproven) > MaxUnproven)
        {
            // Outsiders can open connections faster than the handshake times out: they may hold this many, no more.
            Interlocked.Decrement(ref _unproven);
            EngineLog.SecretHandshakeAbandoned(_log, remote, $"{MaxUnproven} connections are already proving the swarm secret; closed at once");
            _metrics.Refused("secret_handshakes");
            socket.Dispose();
            return;
        }
        Stream? stream;
        try
        {
            SocketTuning.Apply(socket, _options);
            stream = await OpenChannelAsync(new NetworkStream(socket, ownsSocket: true), null, remote, ct).ConfigureAwait(false);
        }
        finally
        {
            if (_options.SwarmSecret is not null) Interlocked.Decrement(ref _unproven);
        }
        if (stream is null) return;
        var conn = PeerConnection.Create(stream, timeProvider: _options.Time, transportOptions: _options.Transport);
        try
        {
            TorrentSession? session = null;
            string? unknown = null;
            Handshake theirs;
            try
            {
                // Nothing is sent before the peer named a torrent we have: to anyone else we say nothing at all.
                theirs = await conn.AcceptHandshakeAsync(h =>
                {
                    session = _engine.Route(h.InfoHash);
                    if (session is null) unknown = Convert.ToHexStringLower(h.InfoHash);
                    return session?.Handshake;
                }, ct).ConfigureAwait(false);
            }
            catch (PeerProtocolException) when (unknown is not null)
            {
                EngineLog.UnknownInfoHash(_log, remote, unknown);
                _metrics.Refused("unknown_torrent");
                return;
            }
            tracked.Owner = session;
            await session!.RunPeerAsync(conn, theirs, remote, outgoing: false, localAddress).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PeerProtocolException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
            if (!ct.IsCancellationRequested) EngineLog.HandshakeFailed(_log, "incoming", remote, ex.Message);
        }
        finally
        {
            await conn.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task DialAsync(TorrentSession session, IPEndPoint endPoint, DialState state)
    {
        var ct = session.StopToken;
        if (_connections.Count > _options.MaxConnections)
        {
            state.End(_options.Time, connected: false);
            return;
        }
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        IPAddress? localAddress = null;
        try
        {
            if (_options.LocalAddress is { } local && local.AddressFamily == endPoint.AddressFamily)
                socket.Bind(new IPEndPoint(local, 0));
            SocketTuning.Apply(socket, _options);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.ConnectTimeout);
            await socket.ConnectAsync(endPoint, timeout.Token).ConfigureAwait(false);
            localAddress = (socket.LocalEndPoint as IPEndPoint)?.Address;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            var retry = state.End(_options.Time, connected: false);
            if (!ct.IsCancellationRequested)
                EngineLog.DialFailed(_log, session.Name, endPoint, ex is OperationCanceledException ? $"no answer within {_options.ConnectTimeout.TotalSeconds:0} s" : ex.Message, retry);
            return;
        }
        Stream? stream = await OpenChannelAsync(new NetworkStream(socket, ownsSocket: true), session, endPoint, ct).ConfigureAwait(false);
        if (stream is null)
        {
            state.End(_options.Time, connected: false);
            return;
        }
        var conn = PeerConnection.Create(stream, timeProvider: _options.Time, transportOptions: _options.Transport);
        bool connected = false;
        try
        {
            var theirs = await conn.ConnectHandshakeAsync(session.Handshake, ct).ConfigureAwait(false);
            connected = true;
            state.Connected = true;
            await session.RunPeerAsync(conn, theirs, endPoint, outgoing: true, localAddress).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PeerProtocolException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
            if (!ct.IsCancellationRequested) EngineLog.HandshakeFailed(_log, "outgoing", endPoint, ex.Message);
        }
        finally
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            state.Connected = false;
            state.End(_options.Time, connected);
        }
    }

    /// <summary>
    /// Without a swarm secret, the socket's stream as it is. With one, the secret handshake (<see cref="SecureChannel"/>)
    /// first, as the dialer when <paramref name="dialer"/> is set: the encrypted stream, or null (and one log line) when
    /// the peer does not prove the secret, is a standard client, or hangs up; the socket is then closed.
    /// </summary>
    private async Task<Stream?> OpenChannelAsync(NetworkStream plain, TorrentSession? dialer, IPEndPoint remote, CancellationToken ct)
    {
        if (_options.SwarmSecret is not { } secret) return plain;
        // Short: until it proved the secret, a connection only holds a slot an outsider could be filling.
        using var timeout = new CancellationTokenSource(SecretHandshakeTimeout, _options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        string reason;
        bool quiet = false;
        try
        {
            return dialer is null
                ? await SecureChannel.AcceptAsync(plain, secret, linked.Token).ConfigureAwait(false)
                : await SecureChannel.ConnectAsync(plain, secret, linked.Token).ConfigureAwait(false);
        }
        catch (SecureChannelException ex)
        {
            reason = ex.Message;
            // A port scan or a health check (connect, then close) is not worth a warning each.
            quiet = ex.Failure == SecureChannelFailure.Closed;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            reason = $"the secret handshake did not complete within {SecretHandshakeTimeout.TotalSeconds:0} s";
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            reason = $"the connection failed during the secret handshake: {ex.Message}";
            quiet = true;
        }
        await plain.DisposeAsync().ConfigureAwait(false);
        if (ct.IsCancellationRequested) return null;
        _metrics.Refused("secret");
        if (dialer is not null) EngineLog.SecretRefusedOutgoing(_log, dialer.Name, remote, reason, secret.Id);
        else if (quiet || !FirstRefusalInAWhile(remote.Address)) EngineLog.SecretHandshakeAbandoned(_log, remote, reason);
        else EngineLog.SecretRefusedIncoming(_log, remote, reason, secret.Id);
        return null;
    }

    /// <summary>Incoming connections at most in the secret handshake at once (each holds a slot until it proves the secret).</summary>
    internal const int MaxUnproven = 64;

    /// <summary>One refusal warning per address per this long; the rest at debug (an outsider's flood is not a log flood).</summary>
    internal static readonly TimeSpan RefusalWarningInterval = TimeSpan.FromMinutes(1);

    private int _unproven;
    private readonly ConcurrentDictionary<IPAddress, long> _lastRefusalWarning = new();

    private bool FirstRefusalInAWhile(IPAddress address)
    {
        long now = _options.Time.GetTimestamp();
        if (_lastRefusalWarning.TryGetValue(address, out long last) && _options.Time.GetElapsedTime(last, now) < RefusalWarningInterval)
            return false;
        if (_lastRefusalWarning.Count >= 4096) _lastRefusalWarning.Clear(); // bounded: many addresses just warn again
        _lastRefusalWarning[address] = now;
        return true;
    }

    /// <summary>How long a peer has to complete the secret handshake (a LAN round trip or two; slots are precious before it).</summary>
    internal static readonly TimeSpan SecretHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>One connection's bookkeeping: whose it is (known once the handshake named the torrent) and when it ended.</summary>
    private sealed class TrackedConnection(long id, IPEndPoint remote)
    {
        public long Id { get; } = id;
        public IPEndPoint Remote { get; } = remote;
        public volatile TorrentSession? Owner;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
