namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Bytes per second over a sliding window of fixed-width buckets, on an injected clock.
/// Thread-safe; <see cref="Add"/> takes a short lock and never allocates.
/// </summary>
public sealed class RateMeter
{
    private readonly TimeProvider _time;
    private readonly long[] _buckets;
    private readonly long _bucketTicks; // in TimeProvider timestamp units
    private readonly Lock _gate = new();
    private long _currentBucket; // absolute bucket number of the newest bucket
    private long _total;
    private readonly long _createdAt;

    /// <param name="window">Window length; the rate is averaged over it.</param>
    /// <param name="buckets">Resolution: more buckets slide more smoothly.</param>
    public RateMeter(TimeProvider time, TimeSpan? window = null, int buckets = 10)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        var w = window ?? TimeSpan.FromSeconds(5);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(w, TimeSpan.Zero);
        _time = time;
        _buckets = new long[buckets];
        _bucketTicks = Math.Max(1, (long)(w.TotalSeconds * time.TimestampFrequency / buckets));
        _createdAt = time.GetTimestamp();
        _currentBucket = _createdAt / _bucketTicks;
    }

    /// <summary>All bytes ever added.</summary>
    public long Total { get { lock (_gate) return _total; } }

    public void Add(long bytes)
    {
        lock (_gate)
        {
            Advance(_time.GetTimestamp());
            _buckets[_currentBucket % _buckets.Length] += bytes;
            _total += bytes;
        }
    }

    /// <summary>
    /// Average rate over the window. While the meter is younger than the window, divides by its age
    /// instead, so a new peer's rate is not underestimated (which would shrink its pipeline).
    /// </summary>
    public double BytesPerSecond
    {
        get
        {
            lock (_gate)
            {
                long now = _time.GetTimestamp();
                Advance(now);
                long sum = 0;
                foreach (long b in _buckets) sum += b;
                long windowTicks = _bucketTicks * _buckets.Length;
                // Span covered: full buckets before the current one, plus the elapsed part of the current one.
                long covered = (_buckets.Length - 1) * _bucketTicks + (now - _currentBucket * _bucketTicks);
                covered = Math.Min(covered, now - _createdAt);
                covered = Math.Clamp(covered, _bucketTicks, windowTicks);
                return sum * (double)_time.TimestampFrequency / covered;
            }
        }
    }

    private void Advance(long now)
    {
        long bucket = now / _bucketTicks;
        long steps = bucket - _currentBucket;
        if (steps <= 0) return;
        if (steps >= _buckets.Length) Array.Clear(_buckets);
        else
            for (long i = 1; i <= steps; i++) _buckets[(_currentBucket + i) % _buckets.Length] = 0;
        _currentBucket = bucket;
    }
}
