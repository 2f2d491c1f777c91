namespace BlockSwarm.Deploy.Api;

/// <summary>What to deploy: served at <c>GET /api/job</c>. Changes of <see cref="JobId"/> mean a new job.</summary>
public sealed record JobInfo
{
    public required string JobId { get; init; }
    public required string Name { get; init; }
    public required string InfoHash { get; init; }

    /// <summary>Relative URL of the torrent (<c>/job.torrent</c>).</summary>
    public required string TorrentUrl { get; init; }

    /// <summary>Relative URL of the embedded tracker's announce.</summary>
    public required string AnnounceUrl { get; init; }

    /// <summary>Smallest target that holds every extent.</summary>
    public required long RequiredTargetSize { get; init; }

    /// <summary>Size of the source device (the natural target size).</summary>
    public required long SourceSize { get; init; }

    public required long TotalBytes { get; init; }
    public required int PieceLength { get; init; }
    public required int PieceCount { get; init; }

    /// <summary>BitTorrent port of the origin seeder (clients dial it directly as well as using the tracker).</summary>
    public required int OriginPort { get; init; }

    public required CompletionPolicy Policy { get; init; }

    /// <summary>
    /// The public id of the swarm secret the swarm needs (<see cref="Security.SwarmSecret.Id"/>), null for an open swarm: a
    /// client without it, or with another, is told so before it touches its target instead of failing every connection.
    /// </summary>
    public string? SecretId { get; init; }

    /// <summary>zstd level clients send runs to each other at (0 = off); absent from servers before it existed (null: the default).</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>
    /// Which peers the clients count as behind another switch (<c>serve --switch-prefix</c>): null = another subnet by
    /// each client's netmask, 0 = none (switch awareness off), N = another /N.
    /// </summary>
    public int? SwitchPrefixLength { get; init; }

    /// <summary>
    /// When the server signed this answer (UTC): a job replayed later by another host shows its age. Set on every
    /// <c>/api/job</c> answer; null from servers before signed jobs.
    /// </summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>
    /// SHA-256 (hex) of the exact bytes <see cref="TorrentUrl"/> serves to this client (its announce URL follows the Host
    /// the client used, so the job is signed per answer): the client refuses a torrent that differs.
    /// </summary>
    public string? TorrentSha256 { get; init; }

    /// <summary>
    /// The fingerprint of the key that signs the job (for people: the dashboard shows it). A client never trusts this
    /// field: it checks the key the signature verifies with.
    /// </summary>
    public string? ServerKey { get; init; }
}

/// <summary>How long clients keep seeding after they finish.</summary>
public sealed record CompletionPolicy
{
    /// <summary><c>until-all-done</c>, <c>ratio</c>, <c>idle</c> or <c>none</c>.</summary>
    public string Mode { get; init; } = "until-all-done";

    /// <summary>Clients the operator expects (0 = unknown).</summary>
    public int Expected { get; init; }

    /// <summary>Upload ratio to reach before leaving (<c>ratio</c> mode).</summary>
    public double Ratio { get; init; } = 1.0;

    /// <summary>Seconds without uploading before leaving (<c>idle</c> mode, and a cap in every mode).</summary>
    public int IdleSeconds { get; init; } = 120;

    /// <summary>As <c>serve --policy</c> spells it: <c>until-all-done</c>, <c>ratio:1.5</c>, <c>idle:120</c>, <c>none</c> (log lines).</summary>
    public override string ToString() => Mode switch
    {
        "ratio" => $"ratio:{Ratio.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        "idle" => $"idle:{IdleSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        _ => Mode,
    };
}
