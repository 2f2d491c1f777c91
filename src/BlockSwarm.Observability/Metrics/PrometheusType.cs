namespace BlockSwarm.Observability.Metrics;

/// <summary>The Prometheus metric type an instrument is exported as.</summary>
internal enum PrometheusType
{
    /// <summary>Counter and ObservableCounter: monotonic, <c>_total</c>.</summary>
    Counter,

    /// <summary>Gauge, ObservableGauge, UpDownCounter and ObservableUpDownCounter: a value that goes up and down.</summary>
    Gauge,

    /// <summary>Histogram: cumulative <c>_bucket{le}</c>, <c>_sum</c>, <c>_count</c>.</summary>
    Histogram,
}
