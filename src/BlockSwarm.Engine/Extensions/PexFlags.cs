namespace BlockSwarm.Engine.Extensions;

/// <summary>Per-peer flags of BEP 11's <c>added.f</c> / <c>added6.f</c>.</summary>
[Flags]
public enum PexFlags : byte
{
    None = 0,
    PrefersEncryption = 0x01,
    Seed = 0x02,
    SupportsUtp = 0x04,
    SupportsHolepunch = 0x08,
    Reachable = 0x10,
}
