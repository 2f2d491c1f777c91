namespace BlockSwarm.Engine.Session;

/// <summary>
/// Which connections a torrent opens and which it closes: the rules that shape the swarm's graph. Shared by the engine
/// and the swarm simulator (bench/BlockSwarm.Simulation), which found why they are needed: with every peer dialing up to
/// its whole limit, an origin with the torrent's 48 connections (a <c>seed</c>; <c>serve</c> takes 256) and the first
/// <see cref="TorrentOptions.MaxConnections"/> clients filled each other's slots, and every later client was refused by
/// all of them for as long as they stayed connected — at N = 100 half the room never received a byte.
/// </summary>
public static class ConnectionPolicy
{
    /// <summary>
    /// How many connections a torrent dials up to: <see cref="TorrentOptions.MaxOutgoing"/>, by default half its limit.
    /// The other half is only taken by peers that dial it, so a peer arriving late always finds room at peers that
    /// arrived early.
    /// </summary>
    public static int DialLimit(TorrentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Math.Clamp(options.MaxOutgoing ?? options.MaxConnections / 2, 1, options.MaxConnections);
    }

    /// <summary>Whether to start another dial with <paramref name="connected"/> connections up and <paramref name="dialing"/> dials in flight.</summary>
    public static bool MayDial(int connected, int dialing, int dialLimit) => connected + dialing < dialLimit;

    /// <summary>
    /// Whether a peer at <paramref name="peer"/> is behind another switch than ours at <paramref name="local"/>: another
    /// subnet by our interface's netmask (<see cref="Tracker.Client.Locality.PrefixOf(System.Net.IPAddress)"/>; /24 or
    /// /64 for an address no interface holds, as in the simulator). Unknown addresses, and
    /// <see cref="TorrentOptions.SwitchLocality"/> off, count as the same switch (no restriction). A prefix given in
    /// <see cref="TorrentOptions.SwitchPrefixLength"/> replaces the netmask.
    /// </summary>
    public static bool IsBehindOtherSwitch(TorrentOptions options, System.Net.IPAddress? local, System.Net.IPAddress peer)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(peer);
        if (!options.SwitchLocality || local is null) return false;
        bool v4 = local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || local.IsIPv4MappedToIPv6;
        int prefix = options.SwitchPrefixLength is int given
            ? Math.Clamp(given, 0, v4 ? 32 : 128)
            : Tracker.Client.Locality.PrefixOf(local);
        return !Tracker.Client.Locality.SameSubnet(local, peer, prefix, prefix);
    }

    /// <summary>
    /// A connection between two seeds carries nothing either way; it only holds a slot a leecher needs (libtorrent's
    /// <c>close_redundant_connections</c>). The seed side closes it and does not dial that address again.
    /// </summary>
    public static bool IsRedundant(bool weAreComplete, bool peerIsSeed) => weAreComplete && peerIsSeed;
}
