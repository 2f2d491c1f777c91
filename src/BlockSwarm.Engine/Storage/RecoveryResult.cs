namespace BlockSwarm.Engine.Storage;

/// <summary>The pieces already present at start, and why we believe so.</summary>
public sealed record RecoveryResult(Bitfield Pieces, RecoverySource Source, string Reason);
