namespace BlockSwarm.Engine.Swarm;

/// <summary>Tunables for <see cref="Choker"/>. Defaults: what the swarm simulator measured best for rooms of 16 to 2,000.</summary>
public sealed record ChokerOptions
{
    /// <summary>
    /// Peers unchoked at once when more than <see cref="UnchokeAllUpTo"/> want data (more while they leave our upload
    /// short: see <see cref="Choker"/>). Few, so that each flow is fast: a piece finishes at its receiver, and can travel
    /// on, in a slot's share of the upload.
    /// </summary>
    public int UnchokeSlots { get; init; } = 8;

    /// <summary>
    /// While at most this many peers want data, every one of them is unchoked: in rooms up to 32 all flows at once fill
    /// the links best (lab and simulator, N = 32 at 10 Mbit/s: 1.28–1.30 × F/c, against 1.41–1.46 with 8 slots).
    /// </summary>
    public int UnchokeAllUpTo { get; init; } = 32;

    /// <summary>How long the optimistic unchoke stays with one peer.</summary>
    public TimeSpan OptimisticInterval { get; init; } = TimeSpan.FromSeconds(30);
}
