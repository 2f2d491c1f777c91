namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Token bucket limiting bytes per second, with slow start: the rate ramps linearly from
/// <c>startBytesPerSecond</c> to <c>bytesPerSecond</c> over <c>rampUp</c>, counted from the first
/// <see cref="WaitAsync"/>, so an origin that starts serving hundreds of peers at once does not
/// flood a weak switch before its buffers and the peers' pipelines settle.
/// </summary>
/// <remarks>
/// <see cref="Stepped"/> builds the other schedule, EZIO's: the rate rises by a fixed step every period and the limit is
/// lifted altogether once it reaches a ceiling.
/// Callers take tokens on arrival and may drive the bucket into debt; each waits until its own
/// share of the debt is paid off. That makes the order first-come first-served without a waiter
/// queue, and the fast path (tokens available) allocates nothing. Thread-safe.
/// </remarks>
public sealed class RateLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly double _fullRate;
    private readonly double _startRate;
    private readonly long _rampTicks;
    private readonly double _burstSeconds;
    // Stepped schedule (EZIO's slow start); zero ticks = the linear ramp above.
    private readonly double _stepRate;
    private readonly long _stepTicks;
    private double _tokens;
    private long _lastRefill;
    private long _startedAt = -1;

    /// <param name="bytesPerSecond">Full rate; zero or less means unlimited.</param>
    /// <param name="startBytesPerSecond">Rate at the start of the ramp; defaults to the full rate (no slow start).</param>
    /// <param name="rampUp">How long the ramp from start to full rate takes.</param>
    /// <param name="burst">How much time's worth of tokens an idle bucket may save up.</param>
    public RateLimiter(TimeProvider time, long bytesPerSecond, long? startBytesPerSecond = null, TimeSpan? rampUp = null, TimeSpan? burst = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _fullRate = bytesPerSecond;
        _startRate = Math.Clamp(startBytesPerSecond ?? bytesPerSecond, 1, Math.Max(1, bytesPerSecond));
        _rampTicks = (long)((rampUp ?? TimeSpan.Zero).TotalSeconds * time.TimestampFrequency);
        _burstSeconds = Math.Max(0.001, (burst ?? TimeSpan.FromMilliseconds(50)).TotalSeconds);
    }

    /// <summary>
    /// EZIO's slow start: <paramref name="startBytesPerSecond"/> at first, <paramref name="stepBytesPerSecond"/> more
    /// after every <paramref name="period"/> (counted from the first <see cref="WaitAsync"/>), and no limit at all from
    /// the step that would reach <paramref name="liftAtBytesPerSecond"/> on. EZIO: 10, 20 … 90 MiB/s, then unlimited.
    /// </summary>
    public static RateLimiter Stepped(TimeProvider time, long startBytesPerSecond, long stepBytesPerSecond, TimeSpan period,
        long liftAtBytesPerSecond, TimeSpan? burst = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(startBytesPerSecond);
        ArgumentOutOfRangeException.ThrowIfNegative(stepBytesPerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(liftAtBytesPerSecond, startBytesPerSecond);
        return new RateLimiter(time, liftAtBytesPerSecond, startBytesPerSecond, burst, stepBytesPerSecond, period);
    }

    private RateLimiter(TimeProvider time, long liftAt, long start, TimeSpan? burst, long step, TimeSpan period)
        : this(time, liftAt, start, null, burst)
    {
        _stepRate = step;
        _stepTicks = Math.Max(1, (long)(period.TotalSeconds * time.TimestampFrequency));
    }

    public bool IsUnlimited => _fullRate <= 0;

    /// <summary>The rate in force now (the ramp position).</summary>
    public double CurrentBytesPerSecond
    {
        get
        {
            if (IsUnlimited) return double.PositiveInfinity;
            lock (_gate) return RateAt(_time.GetTimestamp());
        }
    }

    /// <summary>Completes when <paramref name="bytes"/> may be sent. Synchronous and allocation-free when tokens are available.</summary>
    public ValueTask WaitAsync(int bytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (IsUnlimited || bytes == 0) return default;
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        TimeSpan delay;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            if (_startedAt < 0)
            {
                _startedAt = now;
                _lastRefill = now;
                _tokens = _startRate * _burstSeconds;
            }
            // A stepped schedule that reached its ceiling has no limit any more (and never gets one back).
            if (_stepTicks > 0 && double.IsPositiveInfinity(RateAt(now))) return default;
            Refill(now);
            _tokens -= bytes;
            if (_tokens >= 0) return default;
            // Our bytes are the last part of the debt: wait until the whole debt is paid.
            // The rate only rises during the ramp, so using today's rate errs on the safe side.
            delay = TimeSpan.FromSeconds(-_tokens / RateAt(now));
        }
        return WaitSlowAsync(delay, bytes, cancellationToken);
    }

    private async ValueTask WaitSlowAsync(TimeSpan delay, int bytes, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Nothing was sent: give the tokens back so later callers are not held for them.
            lock (_gate) _tokens += bytes;
            throw;
        }
    }

    private void Refill(long now)
    {
        long dt = now - _lastRefill;
        if (dt <= 0) return;
        // Midpoint rate integrates the linear ramp exactly within one segment.
        double rate = RateAt(_lastRefill + dt / 2);
        _tokens = Math.Min(_tokens + rate * dt / _time.TimestampFrequency, RateAt(now) * _burstSeconds);
        _lastRefill = now;
    }

    private double RateAt(long timestamp)
    {
        if (_stepTicks > 0)
        {
            if (_startedAt < 0) return _startRate;
            double stepped = _startRate + _stepRate * ((timestamp - _startedAt) / _stepTicks);
            return stepped >= _fullRate ? double.PositiveInfinity : stepped;
        }
        if (_startedAt < 0 || _rampTicks <= 0) return _startedAt < 0 ? _startRate : _fullRate;
        double progress = Math.Clamp((double)(timestamp - _startedAt) / _rampTicks, 0, 1);
        return _startRate + (_fullRate - _startRate) * progress;
    }
}
