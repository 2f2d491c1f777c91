using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// Runs one torrent's <see cref="Choker"/>: on a signal (interest changed, a peer came or went) or every 10 s
/// (rotation), decides whom to unchoke and sends the CHOKE/UNCHOKE messages that change. Also switches origin
/// spreading on while we are the only seed and off once another seed appears.
/// </summary>
internal sealed class ChokeScheduler(TorrentSession session, Choker choker, OriginServePolicy? origin, ILogger log) : IDisposable
{
    private static readonly TimeSpan Rotation = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Asks for a decision soon (coalesced: many requests before the loop wakes make one run).</summary>
    public void Request()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // A run is already due.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var unchoke = new List<PeerHandle>();
        var candidates = new List<ChokerPeer>();
        var unchokeSet = new HashSet<PeerHandle>();
        Task? signal = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                signal ??= _signal.WaitAsync(ct);
                await Task.WhenAny(signal, Task.Delay(Rotation, session.Time, ct)).ConfigureAwait(false);
                if (ct.IsCancellationRequested) return;
                if (signal.IsCompleted) signal = null;
                Decide(candidates, unchoke, unchokeSet);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Call once the loop and every peer that could signal it have ended.</summary>
    public void Dispose() => _signal.Dispose();

    private void Decide(List<ChokerPeer> candidates, List<PeerHandle> unchoke, HashSet<PeerHandle> unchokeSet)
    {
        var peers = session.Peers;
        var swarm = session.Swarm;
        candidates.Clear();
        foreach (var p in peers.All) candidates.Add(new ChokerPeer(p.Id, p.PeerInterested, swarm.PeerHaveCount(p.Id)));
        unchoke.Clear();
        bool seeding = swarm.IsComplete;
        choker.Decide(candidates, seeding, unchoke, session.Counters.Uploaded);
        if (origin != null) UpdateOrigin(seeding && peers.All.All(p => !swarm.PeerIsSeed(p.Id)));
        unchokeSet.Clear();
        unchokeSet.UnionWith(unchoke);
        foreach (var p in peers.All)
        {
            bool shouldUnchoke = unchokeSet.Contains(p.Id);
            if (shouldUnchoke && p.AmChoking)
            {
                p.AmChoking = false;
                p.Connection.Send(OutgoingMessage.Unchoke);
            }
            else if (!shouldUnchoke && !p.AmChoking)
            {
                p.AmChoking = true;
                p.Connection.Send(OutgoingMessage.Choke);
            }
        }
        if (log.IsEnabled(LogLevel.Debug))
            EngineLog.Choked(log, session.Name, unchoke.Count, candidates.Count(c => c.Interested), seeding);
    }

    private void UpdateOrigin(bool active)
    {
        if (origin!.Active == active) return;
        origin.Active = active;
        EngineLog.OriginSpreading(log, session.Name, active ? "on" : "off",
            active ? "we are the only seed: each piece goes out once before any goes twice, peers spread the rest"
                   : "another seed is connected: serving every request");
    }
}
