using System.Collections.Concurrent;
using System.Net;

namespace BlockSwarm.Tracker;

/// <summary>
/// Token bucket per source address, against announce floods. The table is bounded: when it is
/// full, buckets that have refilled completely (idle sources) are evicted; if it is still full
/// the request is allowed untracked, because refusing every new honest client would be worse
/// than letting a flood from many addresses through.
/// </summary>
internal sealed class AnnounceRateLimiter(TimeProvider time, double ratePerSecond, int burst, int maxSources)
{
    private sealed class Bucket
    {
        public double Tokens;
        public long LastTimestamp;
        public bool Limiting;
    }

    private readonly ConcurrentDictionary<IPAddress, Bucket> _buckets = new();
    private int _count;

    public bool Enabled => ratePerSecond > 0;

    public bool TryAcquire(IPAddress source) => TryAcquire(source, out _);

    /// <summary>
    /// Takes a token; <paramref name="startedLimiting"/> is true for the first refusal since this source was last
    /// allowed, so a flood is logged once as a warning and not once per request.
    /// </summary>
    public bool TryAcquire(IPAddress source, out bool startedLimiting)
    {
        startedLimiting = false;
        if (!Enabled) return true;
        var now = time.GetTimestamp();
        if (!_buckets.TryGetValue(source, out var bucket))
        {
            if (Volatile.Read(ref _count) >= maxSources && !EvictIdle(now)) return true;
            bucket = new Bucket { Tokens = burst, LastTimestamp = now };
            if (_buckets.TryAdd(source, bucket)) Interlocked.Increment(ref _count);
            else bucket = _buckets[source];
        }
        lock (bucket)
        {
            Refill(bucket, now);
            if (bucket.Tokens < 1)
            {
                startedLimiting = !bucket.Limiting;
                bucket.Limiting = true;
                return false;
            }
            bucket.Tokens -= 1;
            bucket.Limiting = false;
            return true;
        }
    }

    private void Refill(Bucket b, long now)
    {
        var elapsed = time.GetElapsedTime(b.LastTimestamp, now).TotalSeconds;
        if (elapsed > 0) b.Tokens = Math.Min(burst, b.Tokens + elapsed * ratePerSecond);
        b.LastTimestamp = now;
    }

    private bool EvictIdle(long now)
    {
        var evicted = false;
        foreach (var (ip, b) in _buckets)
        {
            bool full;
            lock (b)
            {
                Refill(b, now);
                full = b.Tokens >= burst;
            }
            if (full && _buckets.TryRemove(ip, out _))
            {
                Interlocked.Decrement(ref _count);
                evicted = true;
            }
        }
        return evicted;
    }
}
