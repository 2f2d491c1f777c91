namespace BlockSwarm.Engine.Swarm;

/// <summary>Tunables for <see cref="Choker"/>. Defaults: generous, for a trusted LAN.</summary>
public sealed record ChokerOptions
{
    /// <summary>Peers unchoked at once. Large: on a LAN the link, not fairness, is the limit.</summary>
    public int UnchokeSlots { get; init; } = 32;

    /// <summary>How long the optimistic unchoke (leeching) stays with one peer.</summary>
    public TimeSpan OptimisticInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>When seeding with more interested peers than slots, an unchoked peer keeps its slot this long before it may be rotated out.</summary>
    public TimeSpan SeedRotationInterval { get; init; } = TimeSpan.FromSeconds(30);
}
