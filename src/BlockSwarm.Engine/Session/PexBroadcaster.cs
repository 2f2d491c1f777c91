using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// Tells every ut_pex peer of a torrent which peers we are connected to (BEP 11): the tracker-less way peers learn of
/// each other. Each connection's <see cref="PexTracker"/> sends at most one message a minute, with what changed.
/// </summary>
internal sealed class PexBroadcaster(TorrentSession session)
{
    private readonly List<PexPeer> _connected = [];

    public void Broadcast()
    {
        var swarm = session.Swarm;
        _connected.Clear();
        foreach (var p in session.Peers.All)
            if (p.ListenEndPoint is { } ep) _connected.Add(new PexPeer(ep, swarm.PeerIsSeed(p.Id) ? PexFlags.Seed : PexFlags.None));
        foreach (var p in session.Peers.All)
        {
            byte id = p.Extensions?.IdOf(PexMessage.ExtensionName) ?? 0;
            if (id == 0) continue;
            var listen = p.ListenEndPoint;
            var msg = p.Pex.TryBuild(_connected.Where(c => !c.EndPoint.Equals(listen)));
            if (msg != null) p.Connection.Send(OutgoingMessage.Extended(id, msg.Encode()));
        }
    }
}
