using System.Net;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// One torrent in a <see cref="TorrentEngine"/>: its swarm state, piece assembler and hashing workers, its connected
/// peers (<see cref="PeerSet"/>, a <see cref="PeerSession"/> each), choking (<see cref="ChokeScheduler"/>), peer exchange
/// (<see cref="PexBroadcaster"/>), checkpoints (<see cref="Checkpointer"/>), tracker announces and traffic counters
/// (<see cref="TransferCounters"/>). The engine owns listening, dialing and the shared memory and rate budgets; this
/// class is the control surface a CLI, HTTP or gRPC front wraps: add peers, stats, completion, remove.
/// </summary>
public sealed class TorrentSession : IAsyncDisposable, IPeerSessionHost
{
    private const int StateCreated = 0, StateRunning = 1, StateStopped = 2;

    private readonly TorrentEngine _engine;
    private readonly TorrentOptions _options;
    private readonly ILogger _log;
    // Not linked to the engine's token (the engine stops each torrent itself), so it holds no registration and needs no disposal.
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly OriginServePolicy? _origin;
    private readonly MessageLimits _limits;
    private readonly RateLimiter _uploadLimiter;
    private readonly KnownPeers _known = new();
    private readonly ChokeScheduler _choking;
    private readonly PexBroadcaster _pex;
    private readonly Checkpointer _checkpoints;
    private readonly List<Task> _background = [];
    private TrackerAnnouncer? _announcer;
    private volatile Exception? _error;
    private int _state;
    private int _failureLogged;

    internal TorrentSession(TorrentEngine engine, Torrent torrent, IPieceStorage storage, Bitfield have, TorrentOptions options, int seed, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(have);
        if (storage.PieceCount != torrent.PieceCount)
            throw new ArgumentException($"the storage has {storage.PieceCount} pieces, the torrent {torrent.PieceCount}", nameof(storage));
        if (have.Length != torrent.PieceCount)
            throw new ArgumentException($"the bitfield has {have.Length} pieces, the torrent {torrent.PieceCount}", nameof(have));
        if (!ExtensionHandshake.IsValidRequestLength(options.MaxRequestLength))
            throw new ArgumentException($"MaxRequestLength must be a multiple of 16 KiB in [16 KiB, 1 MiB], not {options.MaxRequestLength}", nameof(options));
        _engine = engine;
        _options = options;
        _log = log;
        Torrent = torrent;
        Storage = storage;
        FileRuns = storage as IFileRunSource;
        Time = engine.Time;
        Name = torrent.Name;
        var random = new Random(seed);
        var memory = engine.Memory;
        Swarm = new SwarmState(torrent.TotalLength, torrent.PieceLength, options.Swarm, Time, new Random(random.Next()), memory.AddAssembling);
        for (int i = have.NextSet(0); i >= 0; i = have.NextSet(i + 1)) Swarm.MarkHave(i);
        Handshake = Handshake.Create(torrent.InfoHash.Span, engine.PeerId.Span);
        MaxRequestLength = options.MaxRequestLength;
        _limits = new MessageLimits(torrent.PieceCount, maxBlockLength: MaxRequestLength);
        _uploadLimiter = options.UploadLimit > 0
            ? new RateLimiter(Time, options.UploadLimit, options.SlowStart is null ? null : options.UploadLimit / 4, options.SlowStart)
            : new RateLimiter(Time, 0);
        if (options.OriginSpreading && Swarm.IsComplete) _origin = new OriginServePolicy(Swarm, Time);
        Counters = new TransferCounters(Time);
        Peers = new PeerSet();
        Assembler = new PieceAssembler(this, engine.Memory, options.HashWorkers);
        _choking = new ChokeScheduler(this, new Choker(options.Choker, Time, new Random(random.Next())), _origin, log);
        _pex = new PexBroadcaster(this);
        _checkpoints = new Checkpointer(this, options);
        MetricTags = [new("torrent", Name), new("info_hash", torrent.InfoHash.ToHex())];
    }

    public Torrent Torrent { get; }
    public IPieceStorage Storage { get; }
    public TimeProvider Time { get; }

    /// <summary>The torrent's name, as log lines and metrics show it.</summary>
    public string Name { get; }

    /// <summary>The engine this torrent runs in.</summary>
    public TorrentEngine Engine => _engine;

    /// <summary>Our 20-byte peer id (the engine's).</summary>
    public ReadOnlyMemory<byte> PeerId => _engine.PeerId;

    /// <summary>The engine's first listening endpoint (port 0 resolved), or null when it only dials.</summary>
    public IPEndPoint? LocalEndPoint => _engine.LocalEndPoint;

    /// <summary>Completes when every piece is verified and on stable storage; faults with the storage error.</summary>
    public Task Completion => _completed.Task;

    public bool IsComplete => Swarm.IsComplete;

    /// <summary>Raised (from a worker thread) after each verified piece; for progress displays and checkpoints.</summary>
    public event Action<int>? PieceVerified;

    internal SwarmState Swarm { get; }
    internal PieceAssembler Assembler { get; }
    internal PeerSet Peers { get; }
    internal TransferCounters Counters { get; }
    internal Handshake Handshake { get; }
    internal int MaxRequestLength { get; }
    internal CancellationToken StopToken => _stop.Token;
    internal KeyValuePair<string, object?>[] MetricTags { get; }
    internal IFileRunSource? FileRuns { get; }
    internal int PeerCount => Peers.Count;

    /// <summary>Incoming handshakes for this info-hash are answered (false once the torrent is being removed).</summary>
    internal bool IsAccepting => Volatile.Read(ref _state) == StateRunning;

    internal bool PexEnabled => _options.Pex ?? _engine.Discovery.Pex;

    /// <summary>
    /// How many new pieces the picker may start now: what the engine's assembling budget (and this torrent's own cap) has
    /// room for, at least one while there is any room (a budget smaller than a piece must not stall the download). Pickers
    /// of several peers and torrents can take the same room at once, so the budget can be exceeded by about a piece per
    /// concurrent picker; never by a whole pipeline.
    /// </summary>
    internal int NewPieceAllowance
    {
        get
        {
            var memory = _engine.Memory;
            long room = memory.AssemblingCapacity - memory.AssemblingUsed;
            if (_options.MaxBufferedBytes is { } cap) room = Math.Min(room, cap - Swarm.StartedBytes);
            return room <= 0 ? 0 : (int)Math.Clamp(room / Torrent.PieceLength, 1, int.MaxValue);
        }
    }

    internal long BytesHave
    {
        get
        {
            int have = Swarm.HaveCount;
            long bytes = (long)have * Torrent.PieceLength;
            if (Swarm.Have(Torrent.PieceCount - 1)) bytes += Torrent.GetPieceLength(Torrent.PieceCount - 1) - Torrent.PieceLength;
            return bytes;
        }
    }

    internal long WireReceived
    {
        get
        {
            long total = Counters.ClosedWireReceived;
            foreach (var p in Peers.All) total += p.Connection.WireBytesReceived;
            return total;
        }
    }

    internal long WireSent
    {
        get
        {
            long total = Counters.ClosedWireSent;
            foreach (var p in Peers.All) total += p.Connection.WireBytesSent;
            return total;
        }
    }

    /// <summary>Starts the torrent's loops and discovery (the engine calls this once it is registered).</summary>
    internal void Start()
    {
        if (Interlocked.CompareExchange(ref _state, StateRunning, StateCreated) != StateCreated)
            throw new InvalidOperationException($"{Name}: already started");
        Assembler.Start();
        _background.Add(TickLoopAsync(_stop.Token));
        _background.Add(_choking.RunAsync(_stop.Token));
        foreach (var p in _options.Peers) AddPeer(p);
        if (_options.AnnounceToTrackers ?? _engine.Discovery.Trackers)
        {
            var tiers = _options.Trackers ?? TrackerAnnouncer.TiersOf(Torrent);
            _announcer = TrackerAnnouncer.Start(this, tiers, _engine.Http, _engine.LocalEndPoint?.Port ?? 0, _engine.AnnounceAddress, _log, _stop.Token);
        }
        if (Swarm.IsComplete) _ = _checkpoints.FinishAsync(_stop.Token);
    }

    /// <summary>Adds a peer address to dial (and re-dial with backoff while it is not connected).</summary>
    public void AddPeer(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (_engine.IsOwnListener(endPoint) || Peers.IsBanned(endPoint.Address)) return;
        if (_known.TryAdd(endPoint) is { } state && IsAccepting && state.TryBegin()) _engine.Connections.Dial(this, endPoint, state);
    }

    public SessionStats GetStats()
    {
        int seeds = 0;
        foreach (var p in Peers.All) if (Swarm.PeerIsSeed(p.Id)) seeds++;
        return new SessionStats
        {
            PieceCount = Torrent.PieceCount,
            PiecesHave = Swarm.HaveCount,
            TotalBytes = Torrent.TotalLength,
            BytesHave = BytesHave,
            PayloadDownloaded = Counters.Downloaded,
            PayloadUploaded = Counters.Uploaded,
            PayloadUploadedFromFile = Counters.UploadedFromFile,
            WireDownloaded = WireReceived,
            WireUploaded = WireSent,
            DownloadRate = Counters.DownloadRate,
            UploadRate = Counters.UploadRate,
            Peers = Peers.Count,
            Seeds = seeds,
            HashFailures = Assembler.HashFailures,
            BannedPeers = Counters.Banned,
            Complete = _completed.Task.IsCompletedSuccessfully,
            Error = _error?.Message,
            DownloadedFrom = Counters.DownloadedByAddress(Peers.All),
        };
    }

    // ---- one connection ---------------------------------------------------------------------

    /// <summary>
    /// Runs a handshaken connection as one of this torrent's peers until it closes, then logs why it closed. Refuses
    /// (closes at once) a connection to ourselves, from a banned address, over the torrent's limit, or a duplicate.
    /// </summary>
    internal async Task RunPeerAsync(PeerConnection conn, Handshake theirs, IPEndPoint remote, bool outgoing)
    {
        var ct = _stop.Token;
        if (ct.IsCancellationRequested) return;
        string? refusal = theirs.PeerIdBytes.SequenceEqual(_engine.PeerId.Span) ? "self"
            : Peers.IsBanned(remote.Address) ? "banned"
            : Peers.Count >= _options.MaxConnections ? "torrent_limit"
            : null;
        var peer = refusal is null ? new PeerSession(this, conn, Peers.NextHandle(), remote, theirs.SupportsFastExtension) { Outgoing = outgoing } : null;
        if (peer != null && !Peers.TryRegister(peer, _engine.PeerId.Span, theirs.PeerIdBytes, Swarm)) refusal = "duplicate";
        if (refusal != null)
        {
            _engine.Metrics.Refused(refusal);
            EngineLog.PeerRefused(_log, Name, remote, refusal switch
            {
                "self" => "it is ourselves",
                "banned" => "its address is banned",
                "torrent_limit" => $"{Peers.Count} peers connected, the torrent's limit is {_options.MaxConnections}",
                _ => "already connected to that peer id (the connection both sides keep stays)",
            });
            return;
        }
        string direction = outgoing ? "outgoing" : "incoming";
        _engine.Metrics.ConnectionsOpened.Add(1, new KeyValuePair<string, object?>("direction", direction));
        EngineLog.PeerConnected(_log, Name, remote, direction, ClientName(theirs.PeerIdBytes), Peers.Count);
        long opened = Time.GetTimestamp();
        SendInitialState(peer!);
        var uploads = peer!.RunUploadsAsync(ct);
        _choking.Request();
        var result = new PeerConnectionResult(PeerCloseReason.LocalClose);
        try
        {
            result = await conn.RunAsync(peer, _limits, ct).ConfigureAwait(false);
        }
        finally
        {
            peer.CompleteUploads();
            Peers.Remove(peer.Id);
            Counters.OnPeerClosed(peer);
            Swarm.RemovePeer(peer.Id);
            _origin?.RemovePeer(peer.Id);
            try { await uploads.ConfigureAwait(false); } catch (OperationCanceledException) { }
            _choking.Request();
            LogClosed(peer, result, Time.GetElapsedTime(opened));
        }
    }

    private void LogClosed(PeerSession peer, PeerConnectionResult result, TimeSpan duration)
    {
        _engine.Metrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", ReasonTag(result.Reason)));
        var remote = peer.Remote;
        switch (result.Reason)
        {
            case PeerCloseReason.ProtocolViolation:
                EngineLog.ProtocolViolation(_log, Name, remote, result.Error?.Message ?? "unspecified");
                break;
            case PeerCloseReason.HandlerError:
                EngineLog.HandlerFailed(_log, Name, remote, result.Error?.Message ?? "unspecified", result.Error!);
                break;
            default:
                if (_log.IsEnabled(LogLevel.Debug))
                    EngineLog.PeerClosed(_log, Name, remote, result.Reason.ToString(), result.Error is { } e ? ": " + e.Message : "",
                        peer.Connection.WireBytesReceived, peer.Connection.WireBytesSent, duration);
                break;
        }
    }

    private static string ReasonTag(PeerCloseReason reason) => reason switch
    {
        PeerCloseReason.LocalClose => "local_close",
        PeerCloseReason.RemoteClose => "remote_close",
        PeerCloseReason.ProtocolViolation => "protocol_violation",
        PeerCloseReason.Timeout => "timeout",
        PeerCloseReason.TransportError => "transport_error",
        _ => "handler_error",
    };

    /// <summary>"-BS0100-" → "BS0100", "-lt0D80-" → "lt0D80" (Azureus style); else the id's printable prefix.</summary>
    internal static string ClientName(ReadOnlySpan<byte> peerId)
    {
        if (peerId.Length >= 8 && peerId[0] == '-' && peerId[7] == '-') return System.Text.Encoding.ASCII.GetString(peerId[1..7]);
        int n = 0;
        while (n < Math.Min(8, peerId.Length) && peerId[n] is >= 0x20 and < 0x7f) n++;
        return n > 0 ? System.Text.Encoding.ASCII.GetString(peerId[..n]) : "unknown client";
    }

    private void SendInitialState(PeerSession peer)
    {
        if (peer.Connection.RemoteHandshake?.SupportsExtensionProtocol == true)
        {
            var ours = new ExtensionHandshake
            {
                Messages = PexEnabled ? new Dictionary<string, byte> { [PexMessage.ExtensionName] = ExtensionHandshake.PexId } : new Dictionary<string, byte>(),
                ListenPort = _engine.LocalEndPoint?.Port,
                Client = "BlockSwarm 0.1",
                RequestQueue = 4096,
                MaxRequestLength = MaxRequestLength > SwarmOptions.BlockSize ? MaxRequestLength : null,
            };
            peer.Connection.Send(OutgoingMessage.Extended(0, ours.Encode()));
        }
        var have = Swarm.HaveSnapshot();
        if (peer.SupportsFast && have.IsComplete) peer.Connection.Send(OutgoingMessage.HaveAll);
        else if (peer.SupportsFast && have.IsEmpty) peer.Connection.Send(OutgoingMessage.HaveNone);
        else if (!have.IsEmpty) peer.Connection.Send(OutgoingMessage.Bitfield(have));
    }

    // ---- events from peers, hashing workers and the checkpointer ------------------------------

    internal void OnPieceVerified(int piece)
    {
        Swarm.PieceVerified(piece);
        foreach (var p in Peers.All)
        {
            p.Connection.Send(OutgoingMessage.Have(piece));
            p.FillRequests();
        }
        PieceVerified?.Invoke(piece);
        if (Swarm.IsComplete)
        {
            foreach (var p in Peers.All) p.RefreshInterest();
            _ = _checkpoints.FinishAsync(_stop.Token);
        }
    }

    internal void OnHashFailed(int piece)
    {
        long offset = (long)piece * Torrent.PieceLength;
        EngineLog.HashFailed(_log, Name, piece, offset, offset + Torrent.GetPieceLength(piece));
        var banned = new List<PeerHandle>();
        Swarm.PieceHashFailed(piece, banned);
        foreach (var id in banned)
        {
            if (!Peers.TryGet(id, out var p)) continue;
            if (Peers.Ban(p.Remote.Address))
            {
                Counters.OnBanned();
                EngineLog.PeerBanned(_log, Name, p.Remote, p.Connection.RemoteHandshake is { } h ? ClientName(h.PeerIdBytes) : "unknown client", piece);
            }
            p.Connection.Close();
        }
        foreach (var p in Peers.All) p.FillRequests();
    }

    internal void RecordPieceDuration(TimeSpan elapsed) => _engine.Metrics.PieceDuration.Record(elapsed.TotalSeconds, MetricTags);

    internal void RecordFlush(TimeSpan elapsed) => _engine.Metrics.FlushDuration.Record(elapsed.TotalSeconds, MetricTags);

    /// <summary>The final flush succeeded: every piece is verified and on stable storage.</summary>
    internal void OnStable()
    {
        if (_completed.TrySetResult()) EngineLog.Complete(_log, Name, Torrent.PieceCount, Torrent.TotalLength);
    }

    internal void OnStopped() => _completed.TrySetCanceled();

    /// <summary>Stops the torrent with <paramref name="error"/> (a storage error, or an engine fault): logged once, Completion faults.</summary>
    public void Fail(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        _error ??= error;
        if (Interlocked.Exchange(ref _failureLogged, 1) == 0) EngineLog.TorrentFailed(_log, Name, error.Message);
        _completed.TrySetException(error);
        try { _stop.Cancel(); } catch (ObjectDisposedException) { }
    }

    // ---- housekeeping ------------------------------------------------------------------------

    private async Task TickLoopAsync(CancellationToken ct)
    {
        var timedOut = new List<PeerBlock>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    Tick(timedOut);
                }
                catch (InvalidOperationException ex)
                {
                    // Never let one bad tick stop timeouts and re-dials for good; the error is kept for the stats.
                    _error ??= ex;
                    EngineLog.TickFailed(_log, Name, ex.Message);
                    continue;
                }
                await _checkpoints.TickAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One second's housekeeping: request timeouts, interest, pipelines, re-dials, PEX.</summary>
    private void Tick(List<PeerBlock> timedOut)
    {
        timedOut.Clear();
        Swarm.Tick(timedOut);
        foreach (var pb in timedOut) ((IPeerSessionHost)this).SendCancel(pb.Peer, pb.Block);
        foreach (var p in Peers.All)
        {
            p.RefreshInterest();
            p.FillRequests();
        }
        foreach (var (ep, state) in _known.Due(Time))
        {
            if (Peers.Count >= _options.MaxConnections) break;
            if (state.TryBegin()) _engine.Connections.Dial(this, ep, state);
        }
        if (PexEnabled) _pex.Broadcast();
    }

    /// <summary>
    /// Stops the torrent (the engine calls this on removal): tracker <c>stopped</c>, every peer closed, their connection
    /// tasks awaited, pieces still assembling released. Verified pieces stay in storage, which the caller owns.
    /// </summary>
    internal async ValueTask StopAsync()
    {
        int was = Interlocked.Exchange(ref _state, StateStopped);
        if (was == StateStopped) return;
        if (_announcer != null) await _announcer.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var p in Peers.All) p.Connection.Close();
        try
        {
            await Task.WhenAll(_background).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _engine.Connections.WaitAsync(this).ConfigureAwait(false);
        _choking.Dispose();
        await Assembler.DisposeAsync().ConfigureAwait(false);
        // Nothing touches the swarm any more: pieces it had started give their share of the engine's budget back.
        _engine.Memory.AddAssembling(-Swarm.StartedBytes);
        _completed.TrySetCanceled();
    }

    /// <summary>Removes the torrent from its engine (see <see cref="TorrentEngine.RemoveAsync"/>).</summary>
    public ValueTask DisposeAsync() => _engine.RemoveAsync(this);

    // ---- what a peer session may ask ------------------------------------------------------------

    TimeProvider IPeerSessionHost.Time => Time;
    SwarmState IPeerSessionHost.Swarm => Swarm;
    PieceAssembler IPeerSessionHost.Assembler => Assembler;
    IFileRunSource? IPeerSessionHost.FileRuns => FileRuns;
    int IPeerSessionHost.MaxRequestLength => MaxRequestLength;
    bool IPeerSessionHost.PexEnabled => PexEnabled;
    int IPeerSessionHost.NewPieceAllowance => NewPieceAllowance;

    ValueTask IPeerSessionHost.WaitForUploadAsync(int bytes, CancellationToken cancellationToken)
    {
        // Unlimited limiters complete synchronously: no await, no allocation on the usual path.
        var torrent = _uploadLimiter.WaitAsync(bytes, cancellationToken);
        if (!torrent.IsCompletedSuccessfully) return WaitBothAsync(torrent, bytes, cancellationToken);
        return _engine.UploadLimiter.WaitAsync(bytes, cancellationToken);
    }

    private async ValueTask WaitBothAsync(ValueTask torrent, int bytes, CancellationToken cancellationToken)
    {
        await torrent.ConfigureAwait(false);
        await _engine.UploadLimiter.WaitAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    void IPeerSessionHost.OnDownloaded(int bytes) => Counters.OnDownloaded(bytes);

    void IPeerSessionHost.OnUploaded(int bytes, bool fromFile)
    {
        Counters.OnUploaded(bytes, fromFile);
        _origin?.OnBlockSent(bytes);
    }

    bool IPeerSessionHost.ShouldServe(PeerHandle peer, int piece) =>
        _origin is not { Active: true } origin || origin.ShouldServe(peer, piece);

    void IPeerSessionHost.OnPexPeer(IPEndPoint endPoint)
    {
        // Bounded: a peer flooding PEX cannot grow the dial list without limit.
        if (Peers.IsBanned(endPoint.Address) || _known.Count >= 4 * _options.MaxConnections) return;
        AddPeer(endPoint);
    }

    void IPeerSessionHost.SendCancel(PeerHandle peer, BlockRequest block)
    {
        // A block that went out inside a longer request (bs_reqlen) matches no queued request there: the peer sends the
        // run anyway and the copy is dropped as a duplicate, which is all endgame costs.
        if (Peers.TryGet(peer, out var p)) p.Connection.Send(OutgoingMessage.Cancel(block.Piece, block.Begin, block.Length));
    }

    void IPeerSessionHost.RequestChokerRun() => _choking.Request();

    void IPeerSessionHost.OnUploadFailed(IPEndPoint remote, Exception error) => EngineLog.UploadFailed(_log, Name, remote, error.Message);
}
