namespace BlockSwarm.Tracker.Client;

/// <summary>An announce that failed: unreachable tracker, HTTP error, bad bencode or a <c>failure reason</c>.</summary>
public sealed class TrackerException : Exception
{
    public TrackerException() { }

    public TrackerException(string message) : base(message) { }

    public TrackerException(string message, Exception inner) : base(message, inner) { }

    /// <summary>True when the tracker answered with a <c>failure reason</c> (it is up, but refuses us).</summary>
    public bool IsFailureReason { get; init; }
}
