using System.Net;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Compression;
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
public sealed partial class TorrentSession : IAsyncDisposable, IPeerSessionHost
{
    private const int StateCreated = 0, StateRunning = 1, StateStopped = 2;

    private readonly TorrentEngine _engine;
    private readonly TorrentOptions _options;
    private readonly ILogger _log;
    // Not linked to the engine's token (the engine stops each torrent itself), so it holds no registration and needs no disposal.
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly OriginServePolicy? _origin;
    private readonly PieceReveal? _reveal;
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
        Swarm = new SwarmState(torrent.TotalLength, torrent.PieceLength, options.Swarm, Time, new Random(random.Next()), memory.AddAssembling)
        {
            RendezvousKey = SwarmState.RendezvousKeyOf(engine.PeerId.Span),
        };
        for (int i = have.NextSet(0); i >= 0; i = have.NextSet(i + 1)) Swarm.MarkHave(i);
        Handshake = Handshake.Create(torrent.InfoHash.Span, engine.PeerId.Span);
        MaxRequestLength = options.MaxRequestLength;
        _limits = new MessageLimits(torrent.PieceCount, maxBlockLength: MaxRequestLength);
        _uploadLimiter = options.UploadLimit > 0
            ? new RateLimiter(Time, options.UploadLimit, options.SlowStart is null ? null : options.UploadLimit / 4, options.SlowStart)
            : new RateLimiter(Time, 0);
        if (options.OriginSpreading && Swarm.IsComplete) _origin = new OriginServePolicy(Swarm, Time);
        if (Swarm.IsComplete && storage is ISequentialSource sequential && RevealWindowFor(options, sequential, torrent) is > 0 and var window && window < torrent.PieceCount)
            _reveal = new PieceReveal(torrent.PieceCount, window);
        Counters = new TransferCounters(Time);
        if (engine.CompressionLevel > 0)
            Compression = new WireCompression(engine.CompressionLevel, torrent.PieceCount, torrent.PieceLength, engine.CompressedRuns)
            {
                // With an upload limit the limit is the bottleneck, whatever the socket says: compress.
                Adaptive = engine.AdaptiveCompression && options.UploadLimit <= 0 && engine.UploadLimiter.IsUnlimited,
            };
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

    /// <summary>This torrent's <c>bs_zstd</c> side; null when the engine's compression is off.</summary>
    internal WireCompression? Compression { get; }
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
    /// How many new pieces the picker may start now: as many whole pieces as the engine's assembling budget (and this
    /// torrent's own cap) has room for; one when nothing is being assembled at all (a budget smaller than a piece must
    /// not stall the download). Room for part of a piece is not room: with Clonezilla's 16 MiB pieces and a 64 MiB
    /// <c>--cache-size</c> (32 MiB to assemble in) a third piece started in the last byte of room was 16 MiB over,
    /// and the daemon's RSS past its cache plus 64 MiB. Pickers of several peers and torrents can still take the same
    /// room at once, so the budget can be exceeded by about a piece per concurrent picker; never by a whole pipeline.
    /// </summary>
    internal int NewPieceAllowance
    {
        get
        {
            var memory = _engine.Memory;
            int pieces = PieceMemory.PiecesThatFit(memory.AssemblingCapacity, memory.AssemblingUsed, Torrent.PieceLength);
            if (_options.MaxBufferedBytes is { } cap)
                pieces = Math.Min(pieces, PieceMemory.PiecesThatFit(cap, Swarm.StartedBytes, Torrent.PieceLength));
            if (pieces > 0) return pieces;
            // Full: ask to be woken when another torrent gives room back (once; the wake-up clears the flag).
            if (Interlocked.Exchange(ref _waitingForRoom, 1) == 0) memory.WaitForRoom(_onRoom ??= OnRoom);
            return 0;
        }
    }

    private int _waitingForRoom;
    private Action? _onRoom;

    /// <summary>Room in the shared budget: every peer tops its pipeline up again (it found the budget full last time).</summary>
    private void OnRoom()
    {
        Volatile.Write(ref _waitingForRoom, 0);
        if (!IsAccepting) return;
        foreach (var p in Peers.All) p.FillRequests();
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

    /// <summary>Bytes received on the wire: closed connections' totals plus the live ones'.</summary>
    internal long WireReceived => Counters.ClosedWireReceived + SumLive(static c => c.WireBytesReceived);

    /// <summary>Bytes sent on the wire: closed connections' totals plus the live ones'.</summary>
    internal long WireSent => Counters.ClosedWireSent + SumLive(static c => c.WireBytesSent);

    private long SumLive(Func<PeerConnection, long> read)
    {
        long total = 0;
        foreach (var p in Peers.All) total += read(p.Connection);
        return total;
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
        lock (_pauseGate) _announcer = StartAnnouncer();
        if (Swarm.IsComplete) _ = _checkpoints.FinishAsync(_stop.Token);
    }

    /// <summary>Starts announcing to the torrent's trackers, when discovery uses them (null otherwise).</summary>
    private TrackerAnnouncer? StartAnnouncer()
    {
        if (!(_options.AnnounceToTrackers ?? _engine.Discovery.Trackers)) return null;
        var tiers = _options.Trackers ?? TrackerAnnouncer.TiersOf(Torrent);
        return TrackerAnnouncer.Start(this, tiers, _engine.Http, _engine.LocalEndPoint?.Port ?? 0, _engine.AnnounceAddress, _engine.SwarmSecret, _engine.LoggerFactory, _stop.Token);
    }

    /// <summary>Pieces to keep announced ahead (see <see cref="TorrentOptions.RevealWindow"/>).</summary>
    private static int RevealWindowFor(TorrentOptions options, ISequentialSource source, Torrent torrent) =>
        options.RevealWindow ?? (int)Math.Clamp(source.DecodedWindowBytes / 2 / torrent.PieceLength, 4, int.MaxValue);

    /// <summary>Adds a peer address to dial (and re-dial with backoff while it is not connected).</summary>
    public void AddPeer(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (_engine.IsOwnListener(endPoint) || Peers.IsBanned(endPoint.Address)) return;
        if (_known.TryAdd(endPoint) is { } state && IsAccepting && !IsPaused
            && ConnectionPolicy.MayDial(Peers.Count, _known.InFlight, ConnectionPolicy.DialLimit(_options)) && state.TryBegin())
            _engine.Connections.Dial(this, endPoint, state);
    }

    /// <summary>The dial bookkeeping of a known address (null when the address is not known).</summary>
    internal DialState? DialStateOf(IPEndPoint endPoint) => _known.Get(endPoint);

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
            Compression = Compression is { } z ? new CompressionStats
            {
                Level = z.Level, SentPayload = z.SentRawBytes, SentWire = z.SentWireBytes, ReceivedPayload = z.ReceivedRawBytes,
                ReceivedWire = z.ReceivedWireBytes, RunsCompressed = z.CompressedRuns, RunsFromCache = z.ForwardedRuns,
            } : null,
            DownloadedFrom = Counters.DownloadedByAddress(Peers.All),
        };
    }

    // ---- events from peers, hashing workers and the checkpointer ------------------------------

    internal void OnPieceVerified(int piece, List<KeptRun>? kept = null)
    {
        // First: a peer that hears HAVE and asks for the piece at once finds its compressed runs ready to forward.
        if (kept != null) Compression?.Keep(piece, kept);
        Swarm.PieceVerified(piece);
        foreach (var p in Peers.All)
        {
            p.AnnounceHave(piece);
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
        CloseRedundant();
        int dialLimit = ConnectionPolicy.DialLimit(_options);
        int inFlight = _known.InFlight;
        foreach (var (ep, state) in IsPaused ? [] : _known.Due(Time))
        {
            if (!ConnectionPolicy.MayDial(Peers.Count, inFlight, dialLimit)) break;
            if (!state.TryBegin()) continue;
            inFlight++;
            _engine.Connections.Dial(this, ep, state);
        }
        if (PexEnabled) _pex.Broadcast();
    }

    /// <summary>Complete: closes the connections to peers that are complete too (<see cref="ConnectionPolicy.IsRedundant"/>).</summary>
    private void CloseRedundant()
    {
        if (!Swarm.IsComplete) return;
        foreach (var p in Peers.All)
        {
            if (!ConnectionPolicy.IsRedundant(true, Swarm.PeerIsSeed(p.Id))) continue;
            if (p.ListenEndPoint is { } ep && _known.Get(ep) is { } state) state.Redundant = true;
            EngineLog.RedundantClosed(_log, Name, p.Remote);
            p.Connection.Close();
        }
    }

    /// <summary>
    /// Stops the torrent (the engine calls this on removal): tracker <c>stopped</c>, every peer closed, their connection
    /// tasks awaited, pieces still assembling released. Verified pieces stay in storage, which the caller owns.
    /// </summary>
    internal async ValueTask StopAsync()
    {
        int was = Interlocked.Exchange(ref _state, StateStopped);
        if (was == StateStopped) return;
        if (TakeAnnouncer() is { } announcer) await announcer.DisposeAsync().ConfigureAwait(false);
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
        Compression?.Release();
        _completed.TrySetCanceled();
    }

    /// <summary>Removes the torrent from its engine (see <see cref="TorrentEngine.RemoveAsync"/>).</summary>
    public ValueTask DisposeAsync() => _engine.RemoveAsync(this);

}
