namespace BlockSwarm.Tracker.Client;

/// <summary>Transfer totals the engine reports at each announce.</summary>
public readonly record struct AnnounceProgress(long Uploaded, long Downloaded, long Left);
