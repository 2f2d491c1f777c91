namespace BlockSwarm.Simulation;

/// <summary>
/// The simulation's virtual time: a <see cref="TimeProvider"/> whose clock moves only when the simulator advances it.
/// Every policy object (picker, choker, origin policy, rate meters, dial backoff, the tracker) reads this clock, so a
/// run is a pure function of its options and seed. Timers are not supported: the simulator calls the policies' periodic
/// work itself, as the engine's loops do.
/// </summary>
public sealed class SimClock : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public override DateTimeOffset GetUtcNow() => Epoch.AddTicks(_ticks);

    /// <summary>Seconds since the start of the run.</summary>
    public double Now => (double)_ticks / TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        _ticks += by.Ticks;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("the simulation's clock has no timers: the simulator runs the periodic work itself");
}
