using System.Net;
using System.Threading.Channels;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// Keeps one torrent announced: <c>started</c> first, then every interval, <c>completed</c> when
/// the engine says so, <c>stopped</c> on <see cref="StopAsync"/>. BEP 12 tiers: each tier is
/// shuffled once, trackers are tried in order, the first that answers is moved to the front of
/// its tier, and the next tier is tried only when a whole tier failed. When all fail the round
/// is retried with exponential backoff (jittered so a room of clients does not retry in step).
/// Discovered peers go to <see cref="Peers"/> and <see cref="PeersDiscovered"/>.
/// </summary>
public sealed class AnnounceManager : IDisposable
{
    private readonly TrackerClient _client;
    private readonly InfoHash _infoHash;
    private readonly ReadOnlyMemory<byte> _peerId;
    private readonly int _port;
    private readonly Func<AnnounceProgress> _progress;
    private readonly AnnounceManagerOptions _options;
    private readonly ILogger _log;
    private readonly List<List<Uri>> _tiers;
    private readonly Channel<IPEndPoint> _peers = Channel.CreateBounded<IPEndPoint>(
        new BoundedChannelOptions(2000) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true });
    private readonly uint _key;
    private readonly Lock _gate = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _completedRequested;
    private bool _completedSent;
    private bool _morePeersRequested;
    private bool _startedSent;
    private long _lastAnnounce;
    private TimeSpan _minInterval;
    private ReadOnlyMemory<byte>? _trackerId;
    private int _waits;

    public AnnounceManager(TrackerClient client, InfoHash infoHash, ReadOnlyMemory<byte> peerId, int port,
        IEnumerable<IEnumerable<Uri>> tiers, Func<AnnounceProgress> progress, AnnounceManagerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        _client = client ?? throw new ArgumentNullException(nameof(client));
        if (peerId.Length != 20) throw new ArgumentException("a peer id is 20 bytes", nameof(peerId));
        _infoHash = infoHash;
        _peerId = peerId;
        _port = port;
        _progress = progress ?? throw new ArgumentNullException(nameof(progress));
        _options = options ?? new AnnounceManagerOptions();
        _log = _options.LoggerFactory.CreateLogger<AnnounceManager>();
        _tiers = [.. tiers.Select(t => t.ToList()).Where(t => t.Count > 0)];
        foreach (var tier in _tiers) _options.Random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tier));
        _key = (uint)_options.Random.NextInt64(0, uint.MaxValue);
    }

    /// <summary>
    /// The HTTP(S) trackers of <paramref name="tiers"/>, the only ones this client speaks, empty tiers dropped. Others
    /// (UDP, BEP 15) are left out silently; with a swarm secret (<paramref name="withProof"/>) each one left out is logged,
    /// as it could not carry the proof even if this client spoke it.
    /// </summary>
    public static List<List<Uri>> HttpTiers(IEnumerable<IEnumerable<Uri>> tiers, InfoHash infoHash, bool withProof, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var usable = new List<List<Uri>>();
        ILogger? log = null;
        foreach (var tier in tiers)
        {
            var kept = new List<Uri>();
            foreach (var url in tier)
            {
                if (AnnounceProof.CanCarry(url)) kept.Add(url);
                else if (withProof) TrackerClientLog.TrackerCannotCarryProof(log ??= loggerFactory.CreateLogger<AnnounceManager>(), url, infoHash, url.Scheme);
            }
            if (kept.Count > 0) usable.Add(kept);
        }
        return usable;
    }

    /// <summary>Discovered peers for the engine (bounded; the oldest are dropped if it falls behind).</summary>
    public ChannelReader<IPEndPoint> Peers => _peers.Reader;

    /// <summary>Raised after each successful announce with the peers it returned.</summary>
    public event EventHandler<IReadOnlyList<IPEndPoint>>? PeersDiscovered;

    /// <summary>Raised for every tracker that failed (the round may still succeed on another).</summary>
    public event EventHandler<TrackerException>? AnnounceFailed;

    public TrackerAnnounceResponse? LastResponse { get; private set; }

    /// <summary>The tracker that answered last.</summary>
    public Uri? CurrentTracker { get; private set; }

    public int ConsecutiveFailures { get; private set; }

    /// <summary>Timed waits begun so far: tests advance a fake clock only once the loop is parked.</summary>
    internal int Waits => Volatile.Read(ref _waits);

    /// <summary>Current tier order (after the shuffle and promotions).</summary>
    public IReadOnlyList<IReadOnlyList<Uri>> Tiers
    {
        get { lock (_gate) return [.. _tiers.Select(t => (IReadOnlyList<Uri>)[.. t])]; }
    }

    /// <summary>The download finished: announce <c>completed</c> now.</summary>
    public void NotifyCompleted()
    {
        lock (_gate) _completedRequested = true;
        Wake();
    }

    /// <summary>The engine's peer set runs low: announce early, but not before the tracker's min interval.</summary>
    public void RequestMorePeers()
    {
        lock (_gate) _morePeersRequested = true;
        Wake();
    }

    /// <summary>Announces until cancelled; then call <see cref="StopAsync"/> for a graceful <c>stopped</c>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var next = time.GetUtcNow();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Task wake;
                bool completedDue, morePeers;
                lock (_gate)
                {
                    wake = _wake.Task;
                    completedDue = _completedRequested && !_completedSent && _startedSent;
                    morePeers = _morePeersRequested;
                }
                var now = time.GetUtcNow();
                if (morePeers)
                {
                    lock (_gate) _morePeersRequested = false;
                    var earliest = _startedSent ? time.GetUtcNow() - time.GetElapsedTime(_lastAnnounce) + _minInterval : now;
                    if (earliest < next) next = earliest > now ? earliest : now;
                }
                if (!completedDue && next > now)
                {
                    using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delay = Task.Delay(next - now, time, delayCts.Token);
                    Interlocked.Increment(ref _waits);
                    await Task.WhenAny(delay, wake).ConfigureAwait(false);
                    await delayCts.CancelAsync().ConfigureAwait(false);
                    continue; // re-evaluate: woken early, or due now
                }

                var ev = !_startedSent ? AnnounceEvent.Started : completedDue ? AnnounceEvent.Completed : AnnounceEvent.None;
                try
                {
                    var response = await AnnounceRoundAsync(ev, cancellationToken).ConfigureAwait(false);
                    if (ConsecutiveFailures > 0) TrackerClientLog.AnnounceRecovered(_log, _infoHash, CurrentTracker!, ConsecutiveFailures);
                    ConsecutiveFailures = 0;
                    lock (_gate)
                    {
                        if (ev == AnnounceEvent.Started) _startedSent = true;
                        if (ev == AnnounceEvent.Completed) _completedSent = true;
                    }
                    _minInterval = response.MinInterval ?? TimeSpan.Zero;
                    next = time.GetUtcNow() + response.Interval;
                    Publish(response);
                }
                catch (TrackerException ex)
                {
                    ConsecutiveFailures++;
                    var retry = RetryDelay(ConsecutiveFailures);
                    next = time.GetUtcNow() + retry;
                    TrackerClientLog.AnnounceFailed(_log, EventName(ev), _infoHash, ConsecutiveFailures, ex.Message, retry.TotalSeconds);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends <c>stopped</c> to the tracker that last answered, if we ever started; errors are ignored.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_startedSent || CurrentTracker is not { } tracker) return;
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout, _options.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            await _client.AnnounceAsync(tracker, Parameters(AnnounceEvent.Stopped) with { NumWant = 0 }, linked.Token).ConfigureAwait(false);
        }
        catch (TrackerException ex)
        {
            TrackerClientLog.StopFailed(_log, _infoHash, tracker, ex.Message);
        }
        catch (OperationCanceledException)
        {
            TrackerClientLog.StopFailed(_log, _infoHash, tracker, "timed out");
        }
        _peers.Writer.TryComplete();
    }

    /// <summary>One pass over the tiers (BEP 12); throws when every tracker failed.</summary>
    internal async Task<TrackerAnnounceResponse> AnnounceRoundAsync(AnnounceEvent ev, CancellationToken cancellationToken)
    {
        var parameters = Parameters(ev);
        TrackerException? last = null;
        List<(Uri Url, string Error)>? failed = null;
        for (var t = 0; t < _tiers.Count; t++)
        {
            Uri[] tier;
            lock (_gate) tier = [.. _tiers[t]];
            foreach (var url in tier)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(_options.RequestTimeout, _options.TimeProvider);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                    TrackerAnnounceResponse response;
                    try
                    {
                        response = await _client.AnnounceAsync(url, parameters, linked.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new TrackerException($"tracker {url} timed out", ex);
                    }
                    lock (_gate)
                    {
                        _tiers[t].Remove(url);
                        _tiers[t].Insert(0, url);
                    }
                    if (failed is not null)
                        foreach (var (u, e) in failed) TrackerClientLog.TrackerSkipped(_log, u, _infoHash, url, e);
                    if (response.WarningMessage is { Length: > 0 } warning) TrackerClientLog.TrackerWarning(_log, url, _infoHash, warning);
                    TrackerClientLog.PeersReceived(_log, url, response.Peers.Count, _infoHash, response.Complete, response.Incomplete, response.Interval.TotalSeconds);
                    CurrentTracker = url;
                    LastResponse = response;
                    _lastAnnounce = _options.TimeProvider.GetTimestamp();
                    if (response.TrackerId is { } id) _trackerId = id;
                    return response;
                }
                catch (TrackerException ex)
                {
                    last = ex;
                    (failed ??= []).Add((url, ex.Message));
                    AnnounceFailed?.Invoke(this, ex);
                }
            }
        }
        // One message naming every tracker tried and why each failed: the line an operator reads when announces fail.
        if (failed is null) throw new TrackerException("no trackers to announce to");
        var reasons = string.Join("; ", failed.Select(f => f.Error.Contains(f.Url.ToString(), StringComparison.Ordinal) ? f.Error : $"{f.Url}: {f.Error}"));
        throw new TrackerException(failed.Count == 1 ? reasons : "every tracker failed: " + reasons, last!);
    }

    internal TimeSpan RetryDelay(int failures)
    {
        var exp = Math.Min(failures - 1, 20);
        var baseDelay = Math.Min(_options.InitialRetryDelay.TotalSeconds * Math.Pow(2, exp), _options.MaxRetryDelay.TotalSeconds);
        // Up to 25% jitter, downwards so the cap holds.
        double jitter;
        lock (_options.Random) jitter = _options.Random.NextDouble();
        return TimeSpan.FromSeconds(baseDelay * (1 - 0.25 * jitter));
    }

    private AnnounceParameters Parameters(AnnounceEvent ev)
    {
        var p = _progress();
        return new AnnounceParameters
        {
            InfoHash = _infoHash,
            PeerId = _peerId,
            Port = _port,
            Uploaded = p.Uploaded,
            Downloaded = p.Downloaded,
            Left = p.Left,
            Event = ev,
            NumWant = _options.NumWant,
            Key = _key,
            Ip = _options.AnnounceIp,
            TrackerId = _trackerId,
        };
    }

    private static string EventName(AnnounceEvent ev) => ev switch
    {
        AnnounceEvent.Started => "started",
        AnnounceEvent.Completed => "completed",
        AnnounceEvent.Stopped => "stopped",
        _ => "update",
    };

    private void Publish(TrackerAnnounceResponse response)
    {
        foreach (var p in response.Peers) _peers.Writer.TryWrite(p);
        PeersDiscovered?.Invoke(this, response.Peers);
    }

    private void Wake()
    {
        TaskCompletionSource old;
        lock (_gate)
        {
            old = _wake;
            _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        old.TrySetResult();
    }

    public void Dispose() => _peers.Writer.TryComplete();
}
