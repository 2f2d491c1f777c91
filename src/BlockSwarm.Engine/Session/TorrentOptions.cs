using System.Net;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Session;

/// <summary>How one torrent in a <see cref="Hosting.TorrentEngine"/> connects, shares and checkpoints.</summary>
public sealed record TorrentOptions
{
    /// <summary>Most simultaneous connections of this torrent (modest, but above ln N so the swarm stays connected).</summary>
    public int MaxConnections { get; init; } = 48;

    /// <summary>
    /// Connections this torrent dials up to; null = half of <see cref="MaxConnections"/> (<see cref="ConnectionPolicy.DialLimit"/>).
    /// The rest of the limit is left to peers that dial us.
    /// </summary>
    public int? MaxOutgoing { get; init; }

    /// <summary>
    /// Switch awareness: peers of another subnet (by our interface's netmask: one subnet per access switch;
    /// <see cref="ConnectionPolicy.IsBehindOtherSwitch"/>) are asked only for pieces no peer of our own subnet has, so each
    /// piece crosses the uplinks about once. Harmless on one flat subnet.
    /// </summary>
    public bool SwitchLocality { get; init; } = true;

    /// <summary>
    /// The prefix length that makes a switch's subnet, instead of the interface's netmask: for rooms numbered in one
    /// flat subnet whose switches are nonetheless blocks of it (e.g. 24 in a /16 with one /24 per switch; at most 32 for
    /// IPv4, 128 for IPv6). Null = the netmask (<see cref="ConnectionPolicy.IsBehindOtherSwitch"/>).
    /// </summary>
    public int? SwitchPrefixLength { get; init; }

    /// <summary>These options with an operator's switch choice (<c>--switch-prefix</c>): null = the netmask, 0 = switch awareness off, N = one /N per switch.</summary>
    public TorrentOptions WithSwitchPrefix(int? prefixLength) => prefixLength switch
    {
        null => this with { SwitchLocality = true, SwitchPrefixLength = null },
        0 => this with { SwitchLocality = false, SwitchPrefixLength = null },
        int n => this with { SwitchLocality = true, SwitchPrefixLength = n },
    };

    /// <summary>Upload limit in bytes/s for this torrent (the engine's limit applies on top); 0 = unlimited.</summary>
    public long UploadLimit { get; init; }

    /// <summary>Ramp <see cref="UploadLimit"/> up from a quarter over this time (origin slow start); null = no slow start.</summary>
    public TimeSpan? SlowStart { get; init; }

    /// <summary>
    /// Pieces a complete torrent on an <see cref="Storage.ISequentialSource"/> keeps announced beyond those already sent
    /// (<see cref="Swarm.PieceReveal"/>); null = half the source's decoded window, at least 4 pieces. 0 turns progressive
    /// reveal off (every piece announced at once).
    /// </summary>
    public int? RevealWindow { get; init; }

    /// <summary>As the only seed, prefer spreading distinct pieces (reject a second copy while a piece was never sent).</summary>
    public bool OriginSpreading { get; init; } = true;

    /// <summary>
    /// This torrent's own cap on pieces being assembled and hashed, under the engine's shared one; null = only the
    /// shared one (<see cref="Storage.PieceMemory.AssemblingCapacity"/>).
    /// </summary>
    public long? MaxBufferedBytes { get; init; }

    /// <summary>Resume file written at checkpoints (after fsync); null = none.</summary>
    public string? ResumePath { get; init; }

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Exchange peer lists with this torrent's peers; null = the engine's <see cref="Hosting.DiscoveryOptions.Pex"/>.</summary>
    public bool? Pex { get; init; }

    /// <summary>Announce to trackers; null = the engine's <see cref="Hosting.DiscoveryOptions.Trackers"/>.</summary>
    public bool? AnnounceToTrackers { get; init; }

    /// <summary>Tracker tiers (BEP 12) to announce to; null = the torrent's own <c>announce</c>/<c>announce-list</c>.</summary>
    public IReadOnlyList<IReadOnlyList<Uri>>? Trackers { get; init; }

    /// <summary>Peers to dial from the start (and re-dial with backoff while they are not connected).</summary>
    public IReadOnlyList<IPEndPoint> Peers { get; init; } = [];

    /// <summary>
    /// Longest REQUEST served and sent, announced in the BEP 10 handshake (<c>bs_reqlen</c>). Between two BlockSwarm
    /// peers runs of consecutive 16 KiB blocks then travel as one message of up to this many bytes: the per-message
    /// work (parsing, picking, cache lookups, the upload queue) drops sixteenfold at 256 KiB. Other clients never
    /// announce it and keep getting standard 16 KiB requests. 16 KiB turns it off; at most 1 MiB (the receive buffer pauses at 4 MiB and must hold a whole frame), a multiple of 16 KiB.
    /// </summary>
    public int MaxRequestLength { get; init; } = 256 * 1024;

    /// <summary>Threads hashing received pieces.</summary>
    public int HashWorkers { get; init; } = Math.Max(1, Environment.ProcessorCount);

    public SwarmOptions Swarm { get; init; } = new();
    public ChokerOptions Choker { get; init; } = new();

    /// <summary>Seed of this torrent's picker and choker randomness; null = drawn from the engine's seed.</summary>
    public int? Seed { get; init; }
}
