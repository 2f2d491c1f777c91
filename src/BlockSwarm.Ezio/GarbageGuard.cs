namespace BlockSwarm.Ezio;

/// <summary>
/// Keeps the daemon's resident memory near <c>--cache-size</c>. The GC sizes its youngest generation from the CPU's
/// cache (32 MiB of L3 on the development VM: tens of MiB of short-lived objects between collections) and frees large
/// objects (piece arrays, 1 MiB upload leases, 256 KiB socket reads the shared pool drops) only in full collections.
/// Left to itself it let a 64 MiB-cache client in a four-client swarm of 16 MiB pieces reach 150-190 MiB of RSS, all
/// of it collectable (under an 80 MiB GC heap limit the same client peaked at 105 MiB, as fast). So, checked every
/// <c>period</c>: a young collection after <see cref="YoungBytes"/> allocated since the last collection of any kind, a
/// full (background, non-compacting) one after a quarter of the cache (at least 16 MiB) since the last full one.
/// Pooled buffers being reused allocate nothing: a steady transfer triggers little, a large cache rarely a full one.
/// In the daemon's process only: tests host daemons in theirs.
/// </summary>
internal sealed class GarbageGuard : IDisposable
{
    /// <summary>Never a full collection for less than this much new allocation.</summary>
    public const long MinThresholdBytes = 16L << 20;

    /// <summary>The young generation's budget the guard keeps (what the GC picks on a CPU with a small cache).</summary>
    public const long YoungBytes = 8L << 20;

    private readonly long _threshold;
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private long _allocatedAtLastFull, _allocatedAtLastAny;
    private int _full, _any;
    private long _induced, _inducedYoung;

    public GarbageGuard(long cacheBytes, TimeSpan period)
    {
        _threshold = Math.Max(MinThresholdBytes, cacheBytes / 4);
        _full = GC.CollectionCount(2);
        _any = GC.CollectionCount(0);
        _allocatedAtLastFull = _allocatedAtLastAny = GC.GetTotalAllocatedBytes(precise: false);
        _timer = new Timer(_ => Check(), null, period, period);
    }

    /// <summary>Bytes allocated since the last full collection that make the guard ask for one.</summary>
    public long ThresholdBytes => _threshold;

    /// <summary>Full collections the guard asked for.</summary>
    public long Induced => Interlocked.Read(ref _induced);

    /// <summary>Young collections the guard asked for.</summary>
    public long InducedYoung => Interlocked.Read(ref _inducedYoung);

    /// <summary>One look: a full collection when enough was allocated since the last one, else a young one when enough since any.</summary>
    public void Check()
    {
        lock (_gate)
        {
            long allocated = GC.GetTotalAllocatedBytes(precise: false);
            // Collections the GC ran itself count as well (CollectionCount(0) counts every collection).
            if (GC.CollectionCount(2) is var full && full != _full)
            {
                _full = full;
                _allocatedAtLastFull = allocated;
            }
            if (GC.CollectionCount(0) is var any && any != _any)
            {
                _any = any;
                _allocatedAtLastAny = allocated;
            }
            if (allocated - _allocatedAtLastFull >= _threshold)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: false, compacting: false);
                Interlocked.Increment(ref _induced);
                _allocatedAtLastFull = _allocatedAtLastAny = allocated;
            }
            else if (allocated - _allocatedAtLastAny >= YoungBytes)
            {
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                Interlocked.Increment(ref _inducedYoung);
                _allocatedAtLastAny = allocated;
            }
            else
            {
                return;
            }
            _full = GC.CollectionCount(2);
            _any = GC.CollectionCount(0);
        }
    }

    public void Dispose() => _timer.Dispose();
}
