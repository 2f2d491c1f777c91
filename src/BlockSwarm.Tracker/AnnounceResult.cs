namespace BlockSwarm.Tracker;

/// <summary>What the tracker answers to one announce: a failure, or counts and a peer sample.</summary>
public sealed class AnnounceResult
{
    public string? FailureReason { get; init; }

    public TimeSpan Interval { get; init; }

    public TimeSpan MinInterval { get; init; }

    public int Complete { get; init; }

    public int Incomplete { get; init; }

    /// <summary>Completions seen in this swarm (scrape's <c>downloaded</c>).</summary>
    public int Downloaded { get; init; }

    public IReadOnlyList<SwarmPeer> Peers { get; init; } = [];

    public static AnnounceResult Failure(string reason) => new() { FailureReason = reason };
}
