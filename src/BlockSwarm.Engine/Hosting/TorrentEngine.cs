using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Tracker.Client.Lsd;
using Microsoft.Extensions.Logging;
using WirePeerId = BlockSwarm.Engine.Wire.PeerId;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// The BitTorrent engine of one process: any number of torrents, added and removed at run time, sharing one set of
/// listening ports, one peer id, one connection manager, one piece-memory budget, one upload limit and one LSD
/// service. Incoming connections are routed to their torrent by the info-hash of their handshake. This is what the
/// fronts wrap: <c>seed</c>/<c>fetch</c> (several torrents on one port), <c>serve</c>, <c>deploy</c>, the EZIO daemon.
/// </summary>
/// <remarks>
/// Life cycle: construct, <see cref="Start"/> (binds the listeners; fails fast when a port is taken), then
/// <see cref="Add"/> torrents, <see cref="RemoveAsync"/> them, and <see cref="DisposeAsync"/> at the end, which removes
/// every torrent and awaits every connection's task.
/// </remarks>
public sealed class TorrentEngine : IAsyncDisposable
{
    private const int StateCreated = 0, StateRunning = 1, StateStopped = 2;

    private readonly EngineOptions _options;
    private readonly ILogger _log;
    private readonly ILogger _torrentLog;
    private readonly ConcurrentDictionary<InfoHash, TorrentSession> _torrents = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Random _seeds;
    private readonly byte[] _peerId;
    private readonly HttpClient? _ownedHttp;
    private readonly List<IPEndPoint> _listening = [];
    private LsdService? _lsd;
    private int _state;

    public TorrentEngine(EngineOptions? options = null)
    {
        _options = options ?? new EngineOptions();
        Time = _options.Time;
        _peerId = _options.PeerId ?? WirePeerId.Create(new Random(System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue)));
        if (_peerId.Length != WirePeerId.Length) throw new ArgumentException($"a peer id is {WirePeerId.Length} bytes, not {_peerId.Length}", nameof(options));
        Memory = _options.Memory ?? PieceMemory.Split(EngineOptions.DefaultMemoryBytes, 16 << 20);
        long limit = _options.UploadLimit;
        UploadLimiter = _options.UploadLimiter
            ?? (limit > 0 ? new RateLimiter(Time, limit, _options.SlowStart is null ? null : limit / 4, _options.SlowStart) : new RateLimiter(Time, 0));
        _log = _options.LoggerFactory.CreateLogger<TorrentEngine>();
        _torrentLog = _options.LoggerFactory.CreateLogger<TorrentSession>();
        Metrics = new EngineMetrics(this);
        Connections = new ConnectionManager(this, _options, Metrics, _options.LoggerFactory.CreateLogger<ConnectionManager>());
        _seeds = new Random(_options.Seed);
        Http = _options.Discovery.Http ?? (_ownedHttp = TrackerHttp.Create(_options.LocalAddress));
        // LSD multicasts every torrent's info-hash to the whole LAN, where anyone may listen: a secret swarm finds its peers
        // through its tracker (which checks the secret) and PEX (inside the encrypted connections) only.
        if (_options.SwarmSecret is not null && _options.Discovery.Lsd)
            throw new ArgumentException("local service discovery (LSD, --lsd) cannot be used with a swarm secret: it multicasts every torrent's info-hash to the whole LAN; peers of a secret swarm are found through its tracker and PEX", nameof(options));
        if (_options.CompressionLevel is < 0 or > 19)
            throw new ArgumentException($"a zstd compression level is 1-19 (0 = off), not {_options.CompressionLevel}", nameof(options));
        if (_options.CompressionLevel > 0)
        {
            if (Compression.Zstd.Unavailable is { } why) EngineLog.CompressionUnavailable(_log, why);
            else CompressedRuns = new Compression.CompressedBlockCache(Memory.CompressedCacheCapacity);
        }
    }

    /// <summary>The zstd level runs are sent to BlockSwarm peers at; 0 when compression is off (or libzstd is missing).</summary>
    internal int CompressionLevel => CompressedRuns is null ? 0 : _options.CompressionLevel;

    internal bool AdaptiveCompression => _options.AdaptiveCompression;

    /// <summary>Compressed runs every torrent keeps for forwarding (null when compression is off).</summary>
    internal Compression.CompressedBlockCache? CompressedRuns { get; }

    public TimeProvider Time { get; }

    /// <summary>Our 20-byte peer id, the same on every connection of every torrent.</summary>
    public ReadOnlyMemory<byte> PeerId => _peerId;

    /// <summary>The piece memory every torrent shares; pass it to storages (<see cref="StorageOptions.Memory"/>) opened for this engine.</summary>
    public PieceMemory Memory { get; }

    /// <summary>The engine's instruments (connections, payload, memory…), for an exporter such as <c>serve</c>'s /metrics.</summary>
    public Meter Meter => Metrics.Meter;

    /// <summary>The bound listening endpoints (ports resolved).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints
    {
        get { lock (_gate) return [.. _listening]; }
    }

    /// <summary>The first listening endpoint, or null when the engine only dials.</summary>
    public IPEndPoint? LocalEndPoint
    {
        get { lock (_gate) return _listening.Count > 0 ? _listening[0] : null; }
    }

    /// <summary>Torrents in the engine now.</summary>
    public IReadOnlyCollection<TorrentSession> Torrents => [.. _torrents.Values];

    /// <summary>Open peer connections, handshaking ones included.</summary>
    public int ConnectionCount => Connections.Count;

    internal int TorrentCount => _torrents.Count;
    internal DiscoveryOptions Discovery => _options.Discovery;
    internal BlockSwarm.Security.SwarmSecret? SwarmSecret => _options.SwarmSecret;
    internal ILoggerFactory LoggerFactory => _options.LoggerFactory;
    internal HttpClient Http { get; }
    internal RateLimiter UploadLimiter { get; }
    internal EngineMetrics Metrics { get; }
    internal ConnectionManager Connections { get; }

    /// <summary>What trackers are told to dial (<c>ip=</c>): the configured address, else a specific listen address.</summary>
    internal IPAddress? AnnounceAddress =>
        _options.Discovery.AnnounceAddress
        ?? (LocalEndPoint is { } ep && !ep.Address.Equals(IPAddress.Any) && !ep.Address.Equals(IPAddress.IPv6Any) ? ep.Address : null);

    private static string SuiteName(CipherSuite suite) => suite switch
    {
        CipherSuite.Aes128Ocb => "AES-128-OCB",
        CipherSuite.Aes256Gcm => "AES-256-GCM",
        _ => suite.ToString(),
    };

    /// <summary>Binds every listener (throws a <see cref="SocketException"/> naming the endpoint when one is taken) and starts LSD.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, StateRunning, StateCreated) != StateCreated)
            throw new InvalidOperationException("the engine was already started (or stopped)");
        // The suites first: a BLOCKSWARM_SECRET_CIPHERS this machine cannot run stops the start, not every connection.
        if (_options.SwarmSecret is { } secret)
            EngineLog.SecretInUse(_log, string.Join(", ", SecureChannel.Suites.Select(SuiteName)), secret.Id, secret.Source);
        foreach (var ep in _options.Listen)
        {
            IPEndPoint bound;
            try
            {
                bound = Connections.Listen(ep, _stop.Token);
            }
            catch (SocketException ex)
            {
                throw new SocketException((int)ex.SocketErrorCode, $"cannot listen for peers on {ep}: {ex.Message}");
            }
            lock (_gate) _listening.Add(bound);
            EngineLog.Listening(_log, bound);
        }
        if (_options.Discovery.Lsd) StartLsd();
    }

    /// <summary>
    /// Adds a torrent and starts sharing it: <paramref name="storage"/> holds its data (the engine never disposes it),
    /// <paramref name="have"/> the pieces already verified there. Throws when the info-hash is already in the engine.
    /// </summary>
    public TorrentSession Add(Torrent torrent, IPieceStorage storage, Bitfield have, TorrentOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        if (Volatile.Read(ref _state) != StateRunning) throw new InvalidOperationException("start the engine before adding torrents (and not after stopping it)");
        options ??= new TorrentOptions();
        int seed;
        lock (_gate) seed = options.Seed ?? _seeds.Next();
        if (_torrents.ContainsKey(torrent.InfoHash)) throw Duplicate(torrent);
        var session = new TorrentSession(this, torrent, storage, have, options, seed, _torrentLog);
        if (!_torrents.TryAdd(torrent.InfoHash, session)) throw Duplicate(torrent);
        EngineLog.TorrentAdded(_log, torrent.Name, torrent.InfoHash.ToHex(), torrent.PieceCount, torrent.PieceLength, have.Count,
            have.IsComplete ? "seeding" : have.IsEmpty ? "downloading" : "resuming");
        session.Start();
        _lsd?.Register(torrent.InfoHash, LocalEndPoint?.Port ?? 0);
        return session;
    }

    private static InvalidOperationException Duplicate(Torrent torrent) =>
        new($"torrent {torrent.Name} ({torrent.InfoHash.ToHex()}) is already in this engine");

    /// <summary>The torrent with <paramref name="infoHash"/>, or null.</summary>
    public TorrentSession? Find(InfoHash infoHash) => _torrents.TryGetValue(infoHash, out var s) ? s : null;

    /// <summary>
    /// Stops a torrent and forgets it: trackers are told <c>stopped</c>, its peers are closed and their tasks awaited,
    /// incoming connections for it are refused from now on. Its storage stays open (the caller owns it).
    /// </summary>
    public async ValueTask RemoveAsync(TorrentSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        bool removed = _torrents.TryRemove(new KeyValuePair<InfoHash, TorrentSession>(session.Torrent.InfoHash, session));
        if (removed) _lsd?.Unregister(session.Torrent.InfoHash);
        await session.StopAsync().ConfigureAwait(false);
        if (removed) EngineLog.TorrentRemoved(_log, session.Name, session.Torrent.InfoHash.ToHex());
    }

    /// <summary>The torrent an incoming handshake asks for, if it is here and accepting.</summary>
    internal TorrentSession? Route(ReadOnlySpan<byte> infoHash) =>
        _torrents.TryGetValue(new InfoHash(infoHash), out var s) && s.IsAccepting ? s : null;

    /// <summary>True for an address one of our own listeners is bound to (dialing it would reach ourselves).</summary>
    internal bool IsOwnListener(IPEndPoint endPoint)
    {
        lock (_gate) return _listening.Contains(endPoint);
    }

    internal CancellationToken StopToken => _stop.Token;

    private void StartLsd()
    {
        var lsd = new LsdService((_options.Discovery.LsdOptions ?? new LsdOptions()) with { LoggerFactory = _options.LoggerFactory });
        lsd.PeerDiscovered += (_, p) =>
        {
            if (_torrents.TryGetValue(p.InfoHash, out var s))
            {
                EngineLog.PeersDiscovered(_torrentLog, s.Name, 1, "LSD");
                s.AddPeer(p.EndPoint);
            }
        };
        try
        {
            lsd.Start();
            _lsd = lsd;
        }
        catch (SocketException ex)
        {
            EngineLog.LsdFailed(_log, ex.Message);
            _ = lsd.DisposeAsync().AsTask();
        }
    }

    /// <summary>Stops listening, removes every torrent and awaits every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, StateStopped) == StateStopped) return;
        int torrents = _torrents.Count, connections = Connections.Count;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Connections.StopListeningAsync().ConfigureAwait(false);
        // In parallel: each torrent may wait a few seconds for its trackers to take "stopped".
        await Task.WhenAll(_torrents.Values.Select(s => RemoveAsync(s).AsTask())).ConfigureAwait(false);
        // Connections still handshaking (not yet routed to a torrent) end with the engine's token.
        await Connections.WaitAsync(null).ConfigureAwait(false);
        if (_lsd != null) await _lsd.DisposeAsync().ConfigureAwait(false);
        EngineLog.Stopped(_log, torrents, connections);
        Metrics.Dispose();
        _ownedHttp?.Dispose();
        _stop.Dispose();
    }
}
