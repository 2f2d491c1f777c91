using System.Collections.Concurrent;

namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// The series of one synchronous instrument, one cell per tag set. Finding an existing cell is a field read (no tags)
/// or a dictionary lookup with the measurement's own tag span (no allocation); only a new tag set allocates. The number
/// of series is capped: beyond the cap, measurements go to one overflow series (OpenTelemetry's
/// <c>otel.metric.overflow</c>), so a tag with unbounded values cannot grow memory without limit.
/// </summary>
internal sealed class SeriesMap<TCell>
    where TCell : class
{
    public static readonly KeyValuePair<string, object?> OverflowTag = new("otel.metric.overflow", true);

    private readonly ConcurrentDictionary<TagSet, TCell> _series = new(TagSetComparer.Instance);
    private readonly ConcurrentDictionary<TagSet, TCell>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> _lookup;
    private readonly Func<TCell> _create;
    private readonly int _maxSeries;
    private TCell? _untagged;
    private TCell? _overflow;

    public SeriesMap(Func<TCell> create, int maxSeries)
    {
        _create = create;
        _maxSeries = maxSeries;
        _lookup = _series.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
    }

    public TCell Get(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty) return _untagged ?? CreateUntagged();
        return _lookup.TryGetValue(tags, out var cell) ? cell : Add(tags);
    }

    /// <summary>Every series with its tags (a snapshot; cells keep changing while it is read).</summary>
    public IEnumerable<(TagSet Tags, TCell Cell)> Series()
    {
        if (Volatile.Read(ref _untagged) is { } untagged) yield return (TagSet.Empty, untagged);
        foreach (var (tags, cell) in _series) yield return (tags, cell);
        if (Volatile.Read(ref _overflow) is { } overflow) yield return (TagSet.From([OverflowTag]), overflow);
    }

    private TCell CreateUntagged()
    {
        Interlocked.CompareExchange(ref _untagged, _create(), null);
        return _untagged!;
    }

    private TCell Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_series.Count >= _maxSeries)
        {
            if (_overflow is null) Interlocked.CompareExchange(ref _overflow, _create(), null);
            return _overflow!;
        }
        var created = _create();
        // A racing thread may have added the same tags: both then use the cell that won.
        return _lookup.TryAdd(tags, created) ? created : _lookup.TryGetValue(tags, out var existing) ? existing : created;
    }
}
