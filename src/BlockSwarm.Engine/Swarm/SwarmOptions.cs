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
    /// Across the uplink, a piece no local peer has is fetched at first only by the local peers that claim it (each claims
    /// about one piece in as many as it has local peers, by a hash of the piece and its own seed), so a switch's clients do
    /// not all fetch the same piece across the uplink; after this long any of them may.
    /// </summary>
    public TimeSpan RemoteClaimGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Per-peer pipeline depth policy.</summary>
    public RequestPipeline Pipeline { get; init; } = new();
}
