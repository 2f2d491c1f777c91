using System.Diagnostics.Metrics;

namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// What the exporter keeps for one instrument: the aggregate of each series, updated by the measurement callbacks (any
/// thread, lock-free) and read by a scrape.
/// </summary>
internal abstract class InstrumentState(Instrument instrument, PrometheusType type)
{
    public Instrument Instrument { get; } = instrument;

    public PrometheusType Type { get; } = type;

    public string MetricName { get; } = PrometheusNames.MetricName(instrument.Name, instrument.Unit, type);

    public abstract void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags);

    public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags);

    /// <summary>Makes the state for a supported instrument kind; null for kinds it does not export.</summary>
    public static InstrumentState? Create(Instrument instrument, PrometheusExporterOptions options)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType) return null;
        var kind = type.GetGenericTypeDefinition();
        if (kind == typeof(Counter<>)) return new SumState(instrument, PrometheusType.Counter, options.MaxSeriesPerInstrument);
        if (kind == typeof(UpDownCounter<>)) return new SumState(instrument, PrometheusType.Gauge, options.MaxSeriesPerInstrument);
        if (kind == typeof(Gauge<>)) return new LastValueState(instrument, options.MaxSeriesPerInstrument);
        if (kind == typeof(Histogram<>)) return new HistogramState(instrument, HistogramBuckets.For(instrument), options.MaxSeriesPerInstrument);
        if (kind == typeof(ObservableCounter<>)) return new ObservedState(instrument, PrometheusType.Counter, options.MaxSeriesPerInstrument);
        if (kind == typeof(ObservableUpDownCounter<>) || kind == typeof(ObservableGauge<>))
            return new ObservedState(instrument, PrometheusType.Gauge, options.MaxSeriesPerInstrument);
        return null;
    }

    protected static void AddDouble(ref double target, double value)
    {
        double seen = Volatile.Read(ref target);
        while (true)
        {
            double was = Interlocked.CompareExchange(ref target, seen + value, seen);
            // Compare bits: NaN never equals itself, and a NaN sum would spin forever otherwise.
            if (BitConverter.DoubleToInt64Bits(was) == BitConverter.DoubleToInt64Bits(seen)) return;
            seen = was;
        }
    }
}

/// <summary>A scalar series value: counters and gauges.</summary>
internal interface IScalarState
{
    IEnumerable<(TagSet Tags, double Value)> Values();
}

/// <summary>Counter and UpDownCounter: the sum of every measurement per series.</summary>
internal sealed class SumState(Instrument instrument, PrometheusType type, int maxSeries) : InstrumentState(instrument, type), IScalarState
{
    internal sealed class Cell
    {
        public long Integer;
        public double Floating;
    }

    private readonly SeriesMap<Cell> _series = new(static () => new Cell(), maxSeries);

    public override void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        Interlocked.Add(ref _series.Get(tags).Integer, value);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        AddDouble(ref _series.Get(tags).Floating, value);

    public IEnumerable<(TagSet Tags, double Value)> Values()
    {
        foreach (var (tags, cell) in _series.Series())
            yield return (tags, Volatile.Read(ref cell.Integer) + Volatile.Read(ref cell.Floating));
    }
}

/// <summary>Gauge&lt;T&gt; (synchronous): the last value recorded per series.</summary>
internal sealed class LastValueState(Instrument instrument, int maxSeries) : InstrumentState(instrument, PrometheusType.Gauge), IScalarState
{
    internal sealed class Cell
    {
        public double Value;
    }

    private readonly SeriesMap<Cell> _series = new(static () => new Cell(), maxSeries);

    public override void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record((double)value, tags);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        Volatile.Write(ref _series.Get(tags).Value, value);

    public IEnumerable<(TagSet Tags, double Value)> Values()
    {
        foreach (var (tags, cell) in _series.Series()) yield return (tags, Volatile.Read(ref cell.Value));
    }
}

/// <summary>
/// Observable instruments: their callbacks run only inside a scrape (<see cref="MeterListener.RecordObservableInstruments"/>),
/// so each scrape starts empty and keeps exactly what the callbacks report now: a series that is no longer reported
/// (a client gone from the list) disappears.
/// </summary>
internal sealed class ObservedState(Instrument instrument, PrometheusType type, int maxSeries) : InstrumentState(instrument, type), IScalarState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TagSet, double> _values = new(TagSetComparer.Instance);

    public void BeginCollect()
    {
        lock (_gate) _values.Clear();
    }

    public override void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record((double)value, tags);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var set = TagSet.From(tags);
        lock (_gate)
        {
            // One value per series and scrape: a callback that reports the same tags twice keeps the last.
            if (_values.Count >= maxSeries && !_values.ContainsKey(set)) return;
            _values[set] = value;
        }
    }

    public IEnumerable<(TagSet Tags, double Value)> Values()
    {
        lock (_gate) return [.. _values.Select(kv => (kv.Key, kv.Value))];
    }
}

/// <summary>Histogram&lt;T&gt;: per series, a count per bucket (upper bounds inclusive, as Prometheus' <c>le</c>) and the sum.</summary>
internal sealed class HistogramState(Instrument instrument, double[] bounds, int maxSeries) : InstrumentState(instrument, PrometheusType.Histogram)
{
    internal sealed class Cell(int buckets)
    {
        public readonly long[] Counts = new long[buckets];
        public double Sum;
    }

    private readonly SeriesMap<Cell> _series = new(() => new Cell(bounds.Length + 1), maxSeries);

    /// <summary>Upper bounds, ascending; the last bucket (+Inf) is implicit.</summary>
    public double[] Bounds { get; } = bounds;

    public override void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record((double)value, tags);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (double.IsNaN(value)) return;
        var cell = _series.Get(tags);
        int i = Array.BinarySearch(Bounds, value);
        Interlocked.Increment(ref cell.Counts[i >= 0 ? i : ~i]);
        AddDouble(ref cell.Sum, value);
    }

    /// <summary>Per series: the per-bucket counts (not cumulative) and the sum, copied.</summary>
    public IEnumerable<(TagSet Tags, long[] Counts, double Sum)> Values()
    {
        foreach (var (tags, cell) in _series.Series())
        {
            var counts = new long[cell.Counts.Length];
            for (int i = 0; i < counts.Length; i++) counts[i] = Volatile.Read(ref cell.Counts[i]);
            yield return (tags, counts, Volatile.Read(ref cell.Sum));
        }
    }
}
