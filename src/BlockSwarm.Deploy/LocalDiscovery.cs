using BlockSwarm.Engine.Session;
using BlockSwarm.Tracker.Client.Lsd;

namespace BlockSwarm.Deploy;

/// <summary>
/// Local Service Discovery (BEP 14) for a session: announces it on the LAN multicast group and
/// dials peers announcing the same torrent. Off by default (multicast leaves the host); turn it on
/// with <c>--lsd</c> where the switch passes multicast and no tracker is wanted.
/// </summary>
public static class LocalDiscovery
{
    public static async Task<LsdService> StartAsync(TorrentSession session, LsdOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        var lsd = new LsdService(options);
        lsd.PeerDiscovered += (_, p) =>
        {
            if (p.InfoHash.Equals(session.Torrent.InfoHash)) session.AddPeer(p.EndPoint);
        };
        try
        {
            lsd.Start();
            lsd.Register(session.Torrent.InfoHash, session.LocalEndPoint?.Port ?? 0);
        }
        catch
        {
            await lsd.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return lsd;
    }
}
