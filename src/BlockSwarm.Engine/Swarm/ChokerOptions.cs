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

    /// <summary>While leeching, at most this many interested peers are all unchoked; past it, <see cref="UnchokeSlots"/>.</summary>
    public int UnchokeAllUpTo { get; init; } = 16;

    /// <summary>
    /// While seeding, at most this many interested peers are all unchoked. Higher than a leecher's: in rooms up to 32 an
    /// origin that fed fresh pieces to only 8 peers at a time held the room back (lab and simulator, N = 32 at 10 Mbit/s:
    /// 1.28–1.30 × F/c with every peer unchoked, 1.41–1.46 with 8 slots everywhere, 1.30 with 8 slots on the clients only).
    /// </summary>
    public int SeedUnchokeAllUpTo { get; init; } = 32;

    /// <summary>How long the optimistic unchoke stays with one peer.</summary>
    public TimeSpan OptimisticInterval { get; init; } = TimeSpan.FromSeconds(30);
}
