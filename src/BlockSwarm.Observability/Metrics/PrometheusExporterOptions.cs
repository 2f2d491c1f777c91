namespace BlockSwarm.Observability.Metrics;

/// <summary>Limits of a <see cref="PrometheusExporter"/>.</summary>
public sealed record PrometheusExporterOptions
{
    /// <summary>
    /// Series (tag sets) kept per instrument; measurements with further tag sets go to one series labelled
    /// <c>otel_metric_overflow="true"</c>. Bounds memory when a tag carries unbounded values (peer addresses).
    /// </summary>
    public int MaxSeriesPerInstrument { get; init; } = 2000;
}
