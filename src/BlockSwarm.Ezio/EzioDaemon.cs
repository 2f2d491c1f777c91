using System.Collections.Concurrent;
using System.Net;
using BlockSwarm.Devices;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Ezio;

/// <summary>
/// What EZIO does, on the BlockSwarm engine: one <see cref="TorrentEngine"/> (one BitTorrent port, one peer id, one
/// piece-memory budget of <c>--cache-size</c>, one upload limit) holding every torrent added through the API. A torrent's
/// save path is checked before it is used (the deploy target guard for a target that is written), its data checked
/// (or, in seeding mode, trusted after a spot check) in the background while the API already answers for it, and it is
/// then verified, written, fsynced and announced by the engine. Shutdown stops every torrent, then flushes and fsyncs
/// every target before it completes. The gRPC front (<see cref="EzioService"/>) is a thin map onto this class.
/// </summary>
public sealed partial class EzioDaemon : IAsyncDisposable
{
    /// <summary>EZIO's defaults for max_uploads and max_connections of 0 or less.</summary>
    public const int DefaultMaxUploads = 3, DefaultMaxConnections = 5;

    /// <summary>Pieces of a seeding_mode source hashed before it is trusted.</summary>
    private const int SpotCheckPieces = 8;

    private const long SlowStartStart = 10L << 20, SlowStartStep = 10L << 20, SlowStartLift = 100L << 20;

    private readonly EzioOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, DaemonTorrent> _torrents = new(StringComparer.Ordinal);
    // Info-hashes being added: the duplicate check and the registration are one step, the storage opened in between.
    private readonly HashSet<string> _adding = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _hashThreads;
    private Task? _shutdown;
    private Task? _housekeeping;
    private GarbageGuard? _garbage;
    private long _added;

    public EzioDaemon(EzioOptions? options = null)
    {
        _options = options ?? new EzioOptions();
        _log = _options.LoggerFactory.CreateLogger<EzioDaemon>();
        _hashThreads = Math.Clamp(_options.AioThreads, 1, Environment.ProcessorCount);
        var memory = PieceMemory.Split(Math.Max(_options.CacheBytes, 1), EzioOptions.LargestExpectedPieceLength);
        var bind = _options.BindAddress;
        Engine = new TorrentEngine(new EngineOptions
        {
            Listen = [new IPEndPoint(bind ?? IPAddress.Any, _options.PeerPort)],
            LocalAddress = bind,
            Memory = memory,
            UploadLimiter = _options.SlowStart
                ? RateLimiter.Stepped(_options.Time, SlowStartStart, SlowStartStep, _options.SlowStartPeriod, SlowStartLift)
                : null,
            Time = _options.Time,
            LoggerFactory = _options.LoggerFactory,
            Discovery = new DiscoveryOptions { Trackers = _options.Trackers, Pex = _options.Pex, Lsd = _options.Lsd },
            Transport = TransportFor(_options.CacheBytes),
        });
    }

    /// <summary>
    /// Each connection may buffer 1/32 of the cache it receives ahead of the engine, between 2 MiB (above the largest
    /// frame, a 1 MiB block) and the default 4 MiB: with <c>--cache-size 64</c> and a dozen connections that waited for
    /// room, the default's 4 MiB each was a third of the cache again.
    /// </summary>
    internal static PeerTransportOptions? TransportFor(long cacheBytes)
    {
        long pause = Math.Clamp(cacheBytes / 32, 2L << 20, PeerTransportOptions.Default.InputPauseThreshold);
        return pause >= PeerTransportOptions.Default.InputPauseThreshold ? null
            : new PeerTransportOptions { InputPauseThreshold = pause, InputResumeThreshold = pause / 2 };
    }

    /// <summary>The engine every torrent runs in.</summary>
    public TorrentEngine Engine { get; }

    public EzioOptions Options => _options;

    /// <summary>Completes when a shutdown (API, signal, dispose) has stopped every torrent and fsynced every target; faults if a flush failed.</summary>
    public Task Stopped => _stopped.Task;

    public bool IsShuttingDown
    {
        get { lock (_gate) return _shutdown != null; }
    }

    /// <summary>Binds the BitTorrent port (throws when it is taken) and starts the once-a-second status work.</summary>
    public void Start()
    {
        Engine.Start();
        if (_options.SlowStart)
            EzioLog.SlowStart(_log, SlowStartStart >> 20, SlowStartStep >> 20, _options.SlowStartPeriod.TotalSeconds, SlowStartLift >> 20);
        _housekeeping = HousekeepingAsync(_stop.Token);
        _garbage = new GarbageGuard(_options.CacheBytes, TimeSpan.FromMilliseconds(50));
    }

    /// <summary>
    /// AddTorrent: parses the torrent, checks and opens its save path, and starts it (checking first, in the background).
    /// Throws a <see cref="DaemonException"/> saying why it was refused.
    /// </summary>
    public TorrentStatus Add(ReadOnlyMemory<byte> torrentFile, string savePath, bool seedingMode, int maxUploads = 0, int maxConnections = 0,
        bool sequentialDownload = false)
    {
        try
        {
            return AddCore(torrentFile, savePath, seedingMode, maxUploads, maxConnections, sequentialDownload);
        }
        catch (DaemonException ex)
        {
            EzioLog.AddRefused(_log, ex.Error.ToString(), ex.Message);
            throw;
        }
    }

    private TorrentStatus AddCore(ReadOnlyMemory<byte> torrentFile, string savePath, bool seedingMode, int maxUploads, int maxConnections,
        bool sequentialDownload)
    {
        ThrowIfShuttingDown();
        Torrent torrent;
        try
        {
            torrent = Torrent.Parse(torrentFile);
        }
        catch (TorrentException ex)
        {
            throw new DaemonException(DaemonError.InvalidArgument, $"malformed torrent ({torrentFile.Length} bytes): {ex.Message}", ex);
        }
        if (string.IsNullOrWhiteSpace(savePath))
            throw new DaemonException(DaemonError.InvalidArgument, "save_path is empty: give the disk or partition to write (with -F, a directory)");
        // Relative to the daemon's working directory, and reported absolute, as libtorrent (EZIO) reports it.
        try
        {
            savePath = Path.GetFullPath(savePath);
        }
        catch (Exception ex) when (ex is ArgumentException or PathTooLongException)
        {
            throw new DaemonException(DaemonError.InvalidArgument, $"save_path '{savePath}' is not a usable path: {ex.Message}", ex);
        }
        string hash = torrent.InfoHash.ToHex();
        lock (_gate)
        {
            ThrowIfShuttingDown();
            if (_torrents.TryGetValue(hash, out var existing) || _adding.Contains(hash))
                throw new DaemonException(DaemonError.AlreadyExists,
                    $"torrent {torrent.Name} ({hash}) is already in the daemon{(existing is null ? "" : $", saving to {existing.SavePath}")}");
            _adding.Add(hash);
        }
        DaemonTorrent? added = null;
        try
        {
            var storage = OpenStorage(torrent, savePath, seedingMode);
            added = new DaemonTorrent(Interlocked.Increment(ref _added), torrent, savePath, storage, seedingMode, seedingMode ? null : ResumePathFor(torrent, savePath), _options.Time);
            int uploads = maxUploads > 0 ? maxUploads : DefaultMaxUploads, connections = maxConnections > 0 ? maxConnections : DefaultMaxConnections;
            var torrentOptions = new TorrentOptions
            {
                MaxConnections = connections,
                Choker = new ChokerOptions { UnchokeSlots = uploads, UnchokeAllUpTo = uploads, SeedUnchokeAllUpTo = uploads },
                ResumePath = added.ResumePath,
                HashWorkers = _hashThreads,
            };
            EzioLog.Added(_log, torrent.Name, hash, savePath, seedingMode ? "seeding mode" : "download", uploads, connections);
            if (sequentialDownload) EzioLog.SequentialIgnored(_log, torrent.Name);
            lock (_gate)
            {
                _adding.Remove(hash);
                if (_shutdown != null)
                {
                    _ = storage.DisposeAsync().AsTask();
                    throw new DaemonException(DaemonError.Unavailable, "the daemon is shutting down");
                }
                _torrents[hash] = added;
                // Started under the lock: a shutdown that begins next finds its task to await.
                added.Startup = Task.Run(() => StartTorrentAsync(added, torrentOptions, _stop.Token));
            }
            return added.Snapshot();
        }
        finally
        {
            lock (_gate) _adding.Remove(hash);
        }
    }

    /// <summary>The torrent's status (<c>hashes</c> empty: every torrent's), in the order torrents were added.</summary>
    public IReadOnlyList<TorrentStatus> GetStatus(IReadOnlyCollection<string>? hashes = null)
    {
        var wanted = hashes is { Count: > 0 } ? new HashSet<string>(hashes.Select(h => h.Trim().ToLowerInvariant()), StringComparer.Ordinal) : null;
        var result = new List<TorrentStatus>();
        foreach (var t in _torrents.Values.OrderBy(t => t.Sequence))
            if (wanted is null || wanted.Contains(t.Hash)) result.Add(t.Snapshot());
        EzioLog.StatusRequested(_log, result.Count);
        return result;
    }

    /// <summary>PauseTorrent: closes the torrent's peers and stops announcing it; verified pieces stay.</summary>
    public async ValueTask PauseAsync(string hash)
    {
        var t = Find(hash);
        EzioLog.PauseRequested(_log, t.Torrent.Name, t.Hash);
        await t.SetPausedAsync(true).ConfigureAwait(false);
    }

    /// <summary>ResumeTorrent: announces and dials again.</summary>
    public async ValueTask ResumeAsync(string hash)
    {
        var t = Find(hash);
        EzioLog.ResumeRequested(_log, t.Torrent.Name, t.Hash);
        await t.SetPausedAsync(false).ConfigureAwait(false);
    }

    private DaemonTorrent Find(string hash)
    {
        ThrowIfShuttingDown();
        string h = (hash ?? "").Trim().ToLowerInvariant();
        if (h.Length != 40 || !h.All(char.IsAsciiHexDigitLower))
            throw new DaemonException(DaemonError.InvalidArgument, $"'{hash}' is not an info-hash (40 hex digits)");
        return _torrents.TryGetValue(h, out var t) ? t : throw new DaemonException(DaemonError.NotFound, $"no torrent {h} in the daemon");
    }

    private void ThrowIfShuttingDown()
    {
        if (IsShuttingDown) throw new DaemonException(DaemonError.Unavailable, "the daemon is shutting down");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ShutdownAsync("dispose").ConfigureAwait(false);
        }
        catch (StorageException)
        {
            // Logged by the shutdown; a dispose has no one to tell.
        }
        _garbage?.Dispose();
        _stop.Dispose();
    }
}
