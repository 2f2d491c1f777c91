namespace BlockSwarm.Engine.Swarm;

/// <summary>Tunables for <see cref="SwarmState"/>. Defaults suit a trusted LAN.</summary>
public sealed record SwarmOptions
{
    /// <summary>Block size used for every request (16 KiB, what every client accepts).</summary>
    public const int BlockSize = 16 * 1024;

    /// <summary>The first this-many pieces are picked at random, so peers start on different pieces and have something to trade.</summary>
    public int RandomFirstPieces { get; init; } = 4;

    /// <summary>In endgame, at most this many peers are asked for the same block.</summary>
    public int EndgameMaxRequestsPerBlock { get; init; } = 2;

    /// <summary>A request older than this is handed to other peers (the original may still answer; it is then a duplicate).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>A peer with outstanding requests that delivered nothing for this long is snubbed: one request at a time.</summary>
    public TimeSpan SnubTimeout { get; init; } = TimeSpan.FromSeconds(60);

    // LAN default: short, so a peer the origin turned away (spreading) asks again soon; the origin serves a starving peer after 3 s.
    /// <summary>After a peer rejects a block of a piece (BEP 6), do not ask it for that piece again for this long.</summary>
    public TimeSpan RejectBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A peer that alone supplied this many pieces that failed their hash is banned. Pieces with several
    /// contributors are only recorded: blaming all of them would ban innocent peers.
    /// </summary>
    public int BanAfterSoleFailures { get; init; } = 2;

    /// <summary>
    /// Across the uplink, a piece no local peer has is fetched at first only by the one local BlockSwarm peer that imports
    /// it (rendezvous hashing of the piece and the peers' ids: every peer of a switch agrees which), so a switch's clients
    /// do not all fetch the same piece across the uplink; after this long any of them may (its importer cannot reach a
    /// remote peer that has it, or is slow), the first telling the others (<see cref="ImportIntentTimeout"/>). Short:
    /// the importer by rendezvous is often not connected to the few remote peers that have a fresh piece (swarm
    /// simulator, 5 switches × 48: 1.42 × F/c with 0.5 s, 1.46–1.53 with 1 s, 1.50–1.62 with 2 s, 1.49–1.54 with none).
    /// </summary>
    public TimeSpan RemoteClaimGrace { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>
    /// A local peer that told us it fetches a piece across the uplink (<see cref="SwarmState.OnImporting"/>) is left to
    /// it for this long: we do not fetch the same piece across the uplink meanwhile.
    /// </summary>
    public TimeSpan ImportIntentTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Per-peer pipeline depth policy.</summary>
    public RequestPipeline Pipeline { get; init; } = new();
}
