using System.Net;
using BlockSwarm.Engine.Session;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker.Client;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// Connects one torrent of the engine to its HTTP trackers: announces its progress (BEP 3, BEP 12 tiers, backoff,
/// <c>completed</c>/<c>stopped</c>) and dials every peer the trackers return.
/// </summary>
internal sealed class TrackerAnnouncer : IAsyncDisposable
{
    private readonly AnnounceManager _manager;
    private readonly CancellationTokenSource _cts;
    private readonly Task _run;

    private TrackerAnnouncer(AnnounceManager manager, CancellationToken ct)
    {
        _manager = manager;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _run = Task.Run(async () =>
        {
            try { await manager.RunAsync(_cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }, CancellationToken.None);
    }

    /// <summary>
    /// Starts announcing to <paramref name="tiers"/>; null when none of them is an HTTP tracker. With a swarm
    /// <paramref name="secret"/> every announce proves it, and a UDP tracker is left out with a log line (it cannot carry the proof).
    /// </summary>
    public static TrackerAnnouncer? Start(TorrentSession session, IEnumerable<IEnumerable<Uri>> tiers, HttpClient http, int port,
        IPAddress? announceIp, BlockSwarm.Security.SwarmSecret? secret, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var usable = AnnounceManager.HttpTiers(tiers, session.Torrent.InfoHash, secret is not null, loggerFactory);
        if (usable.Count == 0) return null;
        var manager = new AnnounceManager(new TrackerClient(http, secret, session.Time), session.Torrent.InfoHash, session.PeerId, port, usable, () =>
        {
            var c = session.Counters;
            return new AnnounceProgress(c.Uploaded, c.Downloaded, session.Torrent.TotalLength - session.BytesHave);
        }, new AnnounceManagerOptions { AnnounceIp = announceIp, TimeProvider = session.Time, LoggerFactory = loggerFactory });
        // The announce manager logs failed rounds (each tracker, its error, the next try), recoveries and peers received.
        manager.PeersDiscovered += (_, peers) =>
        {
            foreach (var p in peers) session.AddPeer(p);
        };
        var announcer = new TrackerAnnouncer(manager, ct);
        // BEP 3: "completed" is sent when the download completes, not by a torrent that was complete when it started
        // (a seed, a resumed finished torrent): opentracker counted Clonezilla's seeding server as a fifth download.
        if (!session.Swarm.IsComplete)
            _ = session.Completion.ContinueWith(t => { if (t.IsCompletedSuccessfully) manager.NotifyCompleted(); }, TaskScheduler.Default);
        return announcer;
    }

    /// <summary>The torrent's own trackers as URI tiers (BEP 12), unusable URLs dropped.</summary>
    public static IEnumerable<IEnumerable<Uri>> TiersOf(Torrent torrent) =>
        torrent.TrackerTiers.Select(t => t.Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : null).OfType<Uri>());

    /// <summary>Stops announcing and sends <c>stopped</c> (bounded to a few seconds).</summary>
    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        try { await _run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try { await _manager.StopAsync(stop.Token).ConfigureAwait(false); }
        catch (Exception ex) when (ex is OperationCanceledException or TrackerException or HttpRequestException) { }
        _manager.Dispose();
        _cts.Dispose();
    }
}
