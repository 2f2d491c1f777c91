namespace BlockSwarm.Engine.Wire;

/// <summary>Azureus-style peer ids: "-BS0100-" followed by 12 random bytes.</summary>
public static class PeerId
{
    public const int Length = 20;

    /// <summary>Client prefix: BS = BlockSwarm, version 0.1.0.0.</summary>
    public static ReadOnlySpan<byte> Prefix => "-BS0100-"u8;

    /// <summary>Whether a peer id is a BlockSwarm one (any version): a peer that runs our swarm policies, such as sharing a switch's imports.</summary>
    public static bool IsBlockSwarm(ReadOnlySpan<byte> peerId) => peerId.StartsWith("-BS"u8);

    /// <summary>A new peer id; <paramref name="random"/> is injected so tests are deterministic.</summary>
    public static byte[] Create(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var id = new byte[Length];
        Prefix.CopyTo(id);
        random.NextBytes(id.AsSpan(Prefix.Length));
        return id;
    }
}
