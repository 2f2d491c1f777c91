using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Tracker;

/// <summary>Tunables of the tracker core. Defaults suit a LAN: short intervals, generous rates.</summary>
public sealed record TrackerOptions
{
    /// <summary>Re-announce interval handed to clients; short because a LAN deployment lasts minutes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Clients must not announce more often than this (early re-announces when peers run low).</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Slack added to two intervals before a silent peer is dropped.</summary>
    public TimeSpan ExpiryGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Share of a leecher's answer taken from peers of its own subnet (<see cref="Client.Locality"/>: one subnet per access
    /// switch), so the swarm trades inside each switch and each piece crosses the uplinks about once; the rest is a
    /// random sample of the swarm, which keeps the subnets connected. 0 turns locality off.
    /// </summary>
    public double LocalShare { get; init; } = 0.75;

    /// <summary>Subnet prefix lengths for <see cref="LocalShare"/> (IPv4, IPv6).</summary>
    public int LocalityIPv4Prefix { get; init; } = Client.Locality.DefaultIPv4Prefix;

    public int LocalityIPv6Prefix { get; init; } = Client.Locality.DefaultIPv6Prefix;

    /// <summary>Swarms larger than this skip the subnet scan (it is one pass over the swarm per announce).</summary>
    public int MaxLocalityScan { get; init; } = 20_000;

    public int DefaultNumWant { get; init; } = 50;

    public int MaxNumWant { get; init; } = 200;

    /// <summary>New peers beyond this are answered but not stored, so memory stays bounded.</summary>
    public int MaxPeersPerSwarm { get; init; } = 10_000;

    /// <summary>New swarms beyond this are refused with a failure reason.</summary>
    public int MaxSwarms { get; init; } = 10_000;

    public int MaxScrapeHashes { get; init; } = 64;

    /// <summary>Sources whose <c>ip=</c> parameter is believed (a proxy, the deployment server).</summary>
    public IReadOnlyCollection<IPAddress> TrustedIpSources { get; init; } = [];

    /// <summary>Loopback callers are local tools and tests: their <c>ip=</c> is believed too.</summary>
    public bool TrustLoopback { get; init; } = true;

    /// <summary>Sustained announces per second per source address; 0 turns rate limiting off.</summary>
    public double AnnouncesPerSecondPerIp { get; init; } = 20;

    /// <summary>Burst allowed above the sustained rate (a host with many torrents starting at once).</summary>
    public int AnnounceBurst { get; init; } = 200;

    /// <summary>Source addresses tracked by the rate limiter; beyond it idle buckets are evicted.</summary>
    public int MaxRateLimitedSources { get; init; } = 100_000;

    /// <summary>
    /// The swarm secret (<c>--secret-file</c>): every announce must then prove it (<see cref="Client.AnnounceProof"/>) or
    /// is refused with a failure reason saying so, and scrape is refused; standard BitTorrent clients cannot join.
    /// Null: every announce is answered, as any BitTorrent tracker does.
    /// </summary>
    public Security.SwarmSecret? SwarmSecret { get; init; }

    /// <summary>How far an announce's proof time may be from our clock either way (<see cref="SwarmSecret"/> set).</summary>
    public TimeSpan ProofWindow { get; init; } = Client.AnnounceProof.DefaultWindow;

    /// <summary>
    /// Proofs remembered to refuse replays (about 100 bytes each). A full cache forgets the oldest and narrows the
    /// window instead of forgetting a proof it would still accept; 200 000 is 10 000 clients announcing every 30 s.
    /// </summary>
    public int MaxRememberedProofs { get; init; } = 200_000;

    public TimeSpan PeerExpiry => 2 * Interval + ExpiryGrace;

    /// <summary>Refused announces (malformed, not allowed, rate limited, tracker full) with their source; each announce at debug.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}
