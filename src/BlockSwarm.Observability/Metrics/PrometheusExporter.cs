using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;

namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// Prometheus text exposition (format 0.0.4) of the instruments of given <see cref="Meter"/> instances. Meters are
/// chosen by instance, not by name: several servers and engines, each with its own meter of the same name, can live in
/// one process (tests do), and a <see cref="MeterListener"/> sees every instrument of the process. Each added meter gets
/// a listener of its own that enables only that meter's instruments, so a meter added later neither loses nor doubles
/// measurements of the others.
/// <para>
/// Recording is a lock-free update of one aggregate per instrument and tag set (a field for no tags, else a dictionary
/// probed with the measurement's own tag span); a scrape reads the aggregates and never blocks recording. Observable
/// instruments are read during the scrape. Tags of the meter, of the instrument and of the measurement become labels;
/// series of instruments that map to the same metric and labels (two engines in one process) are added up.
/// </para>
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>The Content-Type of <see cref="Collect"/>'s text.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly PrometheusExporterOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<Meter, MeterListener> _listeners = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    public PrometheusExporter(IEnumerable<Meter>? meters = null, PrometheusExporterOptions? options = null)
    {
        _options = options ?? new PrometheusExporterOptions();
        foreach (var m in meters ?? []) AddMeter(m);
    }

    /// <summary>Meters being exported (a copy).</summary>
    public IReadOnlyList<Meter> Meters
    {
        get { lock (_gate) return [.. _listeners.Keys]; }
    }

    /// <summary>Exports <paramref name="meter"/>'s instruments, those it has now and those it creates later. Adding it twice does nothing.</summary>
    public void AddMeter(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_listeners.ContainsKey(meter)) return;
            var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (!ReferenceEquals(instrument.Meter, meter)) return;
                    var state = InstrumentState.Create(instrument, _options);
                    if (state is null) return;
                    _instruments[instrument] = state;
                    l.EnableMeasurementEvents(instrument, state);
                },
                // The meter was disposed (or the listener): its series leave the output.
                MeasurementsCompleted = (instrument, state) =>
                {
                    if (state is InstrumentState s) _instruments.TryRemove(KeyValuePair.Create(instrument, s));
                },
            };
            listener.SetMeasurementEventCallback<long>(static (_, m, tags, s) => ((InstrumentState)s!).Record(m, tags));
            listener.SetMeasurementEventCallback<int>(static (_, m, tags, s) => ((InstrumentState)s!).Record((long)m, tags));
            listener.SetMeasurementEventCallback<short>(static (_, m, tags, s) => ((InstrumentState)s!).Record((long)m, tags));
            listener.SetMeasurementEventCallback<byte>(static (_, m, tags, s) => ((InstrumentState)s!).Record((long)m, tags));
            listener.SetMeasurementEventCallback<double>(static (_, m, tags, s) => ((InstrumentState)s!).Record(m, tags));
            listener.SetMeasurementEventCallback<float>(static (_, m, tags, s) => ((InstrumentState)s!).Record((double)m, tags));
            listener.SetMeasurementEventCallback<decimal>(static (_, m, tags, s) => ((InstrumentState)s!).Record((double)m, tags));
            _listeners.Add(meter, listener);
            listener.Start(); // publishes the meter's existing instruments to InstrumentPublished
        }
    }

    /// <summary>Stops exporting <paramref name="meter"/>; its series leave the output. False when it was not exported.</summary>
    public bool RemoveMeter(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        MeterListener? listener;
        lock (_gate)
        {
            if (!_listeners.Remove(meter, out listener)) return false;
        }
        listener.Dispose();
        return true;
    }

    /// <summary>The exposition text: every metric family once, families by name, series by labels.</summary>
    public string Collect()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ObserveAll();
            return Render();
        }
    }

    private void ObserveAll()
    {
        foreach (var s in _instruments.Values)
            if (s is ObservedState observed) observed.BeginCollect();
        foreach (var listener in _listeners.Values)
        {
            try
            {
                listener.RecordObservableInstruments();
            }
            catch (AggregateException)
            {
                // A callback that throws costs its own series, not the scrape: the others were observed all the same.
            }
        }
    }

    private string Render()
    {
        var families = new SortedDictionary<string, Family>(StringComparer.Ordinal);
        var ordered = _instruments.Values
            .OrderBy(s => s.MetricName, StringComparer.Ordinal)
            .ThenBy(s => s.Instrument.Meter.Name, StringComparer.Ordinal)
            .ThenBy(s => s.Instrument.Name, StringComparer.Ordinal);
        foreach (var state in ordered)
        {
            if (!families.TryGetValue(state.MetricName, out var family))
                families.Add(state.MetricName, family = new Family(state.Type) { Help = state.Instrument.Name });
            else if (family.Type != state.Type)
                continue; // one name, two types: invalid exposition; the first (by meter and instrument name) wins
            if (!family.Described && !string.IsNullOrEmpty(state.Instrument.Description))
            {
                family.Help = state.Instrument.Description;
                family.Described = true;
            }
            switch (state)
            {
                case IScalarState scalar:
                    foreach (var (tags, value) in scalar.Values()) family.AddScalar(Labels(state.Instrument, tags), value);
                    break;
                case HistogramState histogram:
                    foreach (var (tags, counts, sum) in histogram.Values()) family.AddHistogram(Labels(state.Instrument, tags), histogram.Bounds, counts, sum);
                    break;
            }
        }

        var sb = new StringBuilder(4096);
        foreach (var (name, family) in families)
        {
            // Every family has help (promtool's lint asks for it): the description, else the instrument's own name.
            sb.Append("# HELP ").Append(name).Append(' ').Append(PrometheusText.EscapeHelp(family.Help)).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(family.Type switch
            {
                PrometheusType.Counter => "counter",
                PrometheusType.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');
            foreach (var (labels, series) in family.Series)
            {
                if (family.Type != PrometheusType.Histogram)
                {
                    Sample(sb, name, labels, null, series.Value);
                    continue;
                }
                long cumulative = 0;
                for (int i = 0; i < series.Counts!.Length; i++)
                {
                    cumulative += series.Counts[i];
                    var le = i < series.Bounds!.Length ? PrometheusText.Number(series.Bounds[i]) : "+Inf";
                    Sample(sb, name + "_bucket", labels, le, cumulative);
                }
                Sample(sb, name + "_sum", labels, null, series.Value);
                Sample(sb, name + "_count", labels, null, cumulative); // equal to the +Inf bucket, as it must be
            }
        }
        return sb.ToString();
    }

    private static void Sample(StringBuilder sb, string name, string labels, string? le, double value)
    {
        sb.Append(name);
        if (labels.Length > 0 || le != null)
        {
            sb.Append('{').Append(labels);
            if (le != null) sb.Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
            sb.Append('}');
        }
        sb.Append(' ').Append(PrometheusText.Number(value)).Append('\n');
    }

    /// <summary>Labels of a series: the meter's tags, then the instrument's, then the measurement's (later ones win), sorted by name.</summary>
    private static string Labels(Instrument instrument, TagSet tags)
    {
        if (tags.Tags.Length == 0 && instrument.Tags is null && instrument.Meter.Tags is null) return "";
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in instrument.Meter.Tags ?? []) labels[PrometheusNames.LabelName(k)] = PrometheusText.LabelText(v);
        foreach (var (k, v) in instrument.Tags ?? []) labels[PrometheusNames.LabelName(k)] = PrometheusText.LabelText(v);
        foreach (var (k, v) in tags.Tags) labels[PrometheusNames.LabelName(k)] = PrometheusText.LabelText(v);
        var sb = new StringBuilder();
        foreach (var (k, v) in labels)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(k).Append("=\"");
            PrometheusText.AppendLabelValue(sb, v);
            sb.Append('"');
        }
        return sb.ToString();
    }

    public void Dispose()
    {
        List<MeterListener> listeners;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            listeners = [.. _listeners.Values];
            _listeners.Clear();
        }
        foreach (var l in listeners) l.Dispose();
        _instruments.Clear();
    }

    /// <summary>One metric family being rendered: its type, help and series by label text.</summary>
    private sealed class Family(PrometheusType type)
    {
        public PrometheusType Type { get; } = type;

        public required string Help { get; set; }

        public bool Described { get; set; }

        public SortedDictionary<string, SeriesValue> Series { get; } = new(StringComparer.Ordinal);

        public void AddScalar(string labels, double value)
        {
            // The same series from two instruments (two engines' meters without distinguishing tags): added up.
            Series[labels] = Series.TryGetValue(labels, out var seen) ? seen with { Value = seen.Value + value } : new SeriesValue(value, null, null);
        }

        public void AddHistogram(string labels, double[] bounds, long[] counts, double sum)
        {
            if (!Series.TryGetValue(labels, out var seen))
            {
                Series[labels] = new SeriesValue(sum, bounds, counts);
                return;
            }
            if (!seen.Bounds!.AsSpan().SequenceEqual(bounds)) return; // different buckets cannot be added up
            for (int i = 0; i < counts.Length; i++) seen.Counts![i] += counts[i];
            Series[labels] = seen with { Value = seen.Value + sum };
        }
    }

    /// <summary>A scalar value, or a histogram's sum with its bounds and per-bucket counts.</summary>
    private readonly record struct SeriesValue(double Value, double[]? Bounds, long[]? Counts);
}
