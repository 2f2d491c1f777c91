namespace BlockSwarm.Engine.Session;

/// <summary>Dial bookkeeping for one known address of a torrent: exponential backoff from 2 s to 60 s.</summary>
internal sealed class DialState
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    private int _dialing;
    private int _failures;
    private long _nextAttempt;
    private TimeSpan _backoff = FirstBackoff;

    /// <summary>A connection to this address is up (dialed by us; incoming ones are not tracked here).</summary>
    public volatile bool Connected;

    /// <summary>We closed our connection to this address because both ends were seeds: never dialed again.</summary>
    public volatile bool Redundant;

    /// <summary>A dial started and has not yet connected or failed.</summary>
    public bool InFlight => Volatile.Read(ref _dialing) == 1 && !Connected;

    /// <summary>Attempts that ended without a connection.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>When the next attempt may start, in <see cref="TimeProvider.GetTimestamp"/> units.</summary>
    public long NextAttemptTimestamp => Volatile.Read(ref _nextAttempt);

    public bool Due(TimeProvider time) => !Redundant && Volatile.Read(ref _dialing) == 0 && time.GetTimestamp() >= Volatile.Read(ref _nextAttempt);

    public bool TryBegin() => Interlocked.CompareExchange(ref _dialing, 1, 0) == 0;

    /// <summary>Ends an attempt; returns how long until the next may start.</summary>
    public TimeSpan End(TimeProvider time, bool connected)
    {
        // Wait the current backoff, then double it for the attempt after: retries at 2, 4, 8 ... 60 s.
        if (connected) _backoff = FirstBackoff;
        var wait = _backoff;
        Volatile.Write(ref _nextAttempt, time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency));
        if (!connected) _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
        if (!connected) Interlocked.Increment(ref _failures);
        Volatile.Write(ref _dialing, 0);
        return wait;
    }
}
