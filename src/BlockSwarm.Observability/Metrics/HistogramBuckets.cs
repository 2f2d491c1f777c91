using System.Diagnostics.Metrics;

namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// Bucket upper bounds of a histogram: the instrument's own advice when it gives valid ones
/// (<see cref="InstrumentAdvice{T}.HistogramBucketBoundaries"/>), else defaults by unit.
/// </summary>
internal static class HistogramBuckets
{
    /// <summary>Seconds: OpenTelemetry's advice for request durations, 5 ms to 10 s.</summary>
    public static readonly double[] Seconds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>Bytes: powers of four from 1 KiB to 64 MiB (blocks are 16 KiB, pieces 64 KiB to 16 MiB, requests up to 256 KiB).</summary>
    public static readonly double[] Bytes = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

    /// <summary>Anything else (and milliseconds): the OpenTelemetry SDK's default bounds.</summary>
    public static readonly double[] Default = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    public static double[] For(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        if (Advice(instrument) is { } advised && IsValid(advised)) return advised;
        return instrument.Unit switch
        {
            "s" => Seconds,
            "By" => Bytes,
            _ => Default,
        };
    }

    private static double[]? Advice(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
        Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<short> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<byte> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<decimal> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        _ => null,
    };

    /// <summary>Finite and strictly ascending (what a cumulative <c>le</c> series needs).</summary>
    private static bool IsValid(double[] bounds)
    {
        if (bounds.Length == 0) return false;
        for (int i = 0; i < bounds.Length; i++)
        {
            if (!double.IsFinite(bounds[i])) return false;
            if (i > 0 && bounds[i] <= bounds[i - 1]) return false;
        }
        return true;
    }
}
