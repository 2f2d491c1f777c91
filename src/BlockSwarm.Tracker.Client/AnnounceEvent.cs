namespace BlockSwarm.Tracker.Client;

/// <summary>The <c>event</c> of a BEP 3 announce; <see cref="None"/> is a regular re-announce.</summary>
public enum AnnounceEvent
{
    None,
    Started,
    Completed,
    Stopped,
}
