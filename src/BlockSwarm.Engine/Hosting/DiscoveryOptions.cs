using System.Net;
using BlockSwarm.Tracker.Client.Lsd;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// How an engine finds peers for its torrents. Every way is the engine's: a front (seed, fetch, deploy, the EZIO
/// daemon) sets these switches and never wires announcers itself.
/// </summary>
public sealed record DiscoveryOptions
{
    /// <summary>Announce to each torrent's HTTP trackers (BEP 3/12) and dial the peers they return.</summary>
    public bool Trackers { get; init; } = true;

    /// <summary>Exchange peer lists with peers (BEP 11 ut_pex over BEP 10), so peers find each other without a tracker.</summary>
    public bool Pex { get; init; } = true;

    /// <summary>Local Service Discovery on the LAN multicast group (BEP 14). Off by default: multicast leaves the host.</summary>
    public bool Lsd { get; init; }

    /// <summary>Group, interval and interface for <see cref="Lsd"/>.</summary>
    public LsdOptions? LsdOptions { get; init; }

    /// <summary>
    /// The address to tell trackers (<c>ip=</c>) when the HTTP source address is not the one peers should dial (several
    /// peers on one host, each on its own 127.0.0.x). Null: the engine's specific listen address, if it has one.
    /// </summary>
    public IPAddress? AnnounceAddress { get; init; }

    /// <summary>The HTTP client for tracker announces; null = one the engine owns (15 s timeout, bound to <see cref="EngineOptions.LocalAddress"/>).</summary>
    public HttpClient? Http { get; init; }
}
