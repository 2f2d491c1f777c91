using System.Text;

namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// OpenTelemetry instrument names and units to Prometheus metric and label names, as OpenTelemetry's Prometheus
/// compatibility rules do it: characters outside <c>[a-zA-Z0-9_:]</c> become <c>_</c> (dots included), the unit is a
/// suffix in words (<c>By</c> → <c>_bytes</c>, <c>s</c> → <c>_seconds</c>; annotations such as <c>{peer}</c> and the
/// dimensionless <c>1</c> add none), counters end in <c>_total</c>, and a name that already ends with its suffix does not
/// get it twice.
/// </summary>
internal static class PrometheusNames
{
    private static readonly Dictionary<string, string> Units = new(StringComparer.Ordinal)
    {
        ["By"] = "bytes",
        ["KiBy"] = "kibibytes",
        ["MiBy"] = "mebibytes",
        ["GiBy"] = "gibibytes",
        ["KBy"] = "kilobytes",
        ["MBy"] = "megabytes",
        ["GBy"] = "gigabytes",
        ["bit"] = "bits",
        ["s"] = "seconds",
        ["ms"] = "milliseconds",
        ["us"] = "microseconds",
        ["ns"] = "nanoseconds",
        ["min"] = "minutes",
        ["h"] = "hours",
        ["d"] = "days",
        ["Hz"] = "hertz",
        ["%"] = "percent",
    };

    private static readonly Dictionary<string, string> PerUnits = new(StringComparer.Ordinal)
    {
        ["s"] = "second",
        ["min"] = "minute",
        ["h"] = "hour",
        ["d"] = "day",
    };

    public static string MetricName(string name, string? unit, PrometheusType type)
    {
        var metric = Sanitize(name);
        if (type == PrometheusType.Counter && metric.EndsWith("_total", StringComparison.Ordinal) && metric.Length > "_total".Length)
            metric = metric[..^"_total".Length];
        var suffix = UnitSuffix(unit);
        if (suffix.Length > 0 && metric != suffix && !metric.EndsWith("_" + suffix, StringComparison.Ordinal))
            metric += "_" + suffix;
        if (type == PrometheusType.Counter) metric += "_total";
        return metric;
    }

    /// <summary>The unit in words: <c>By/s</c> → <c>bytes_per_second</c>; empty for annotations and <c>1</c>.</summary>
    public static string UnitSuffix(string? unit)
    {
        if (string.IsNullOrWhiteSpace(unit)) return "";
        // Curly-brace annotations ({peer}, {piece}) name what is counted, not a unit: they add nothing.
        var sb = new StringBuilder(unit.Length);
        int depth = 0;
        foreach (var c in unit)
        {
            if (c == '{') depth++;
            else if (c == '}') depth = Math.Max(0, depth - 1);
            else if (depth == 0) sb.Append(c);
        }
        var u = sb.ToString().Trim();
        if (u.Length == 0 || u == "1") return "";
        var slash = u.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var top = Words(u[..slash], Units);
            var bottom = Words(u[(slash + 1)..], PerUnits);
            if (top.Length == 0) return bottom.Length == 0 ? "" : "per_" + bottom;
            return bottom.Length == 0 ? top : $"{top}_per_{bottom}";
        }
        return Words(u, Units);
    }

    private static string Words(string unit, Dictionary<string, string> table)
    {
        unit = unit.Trim();
        if (unit.Length == 0 || unit == "1") return "";
        return table.TryGetValue(unit, out var w) ? w : Sanitize(unit).Trim('_');
    }

    /// <summary>A valid metric name: invalid characters to <c>_</c>, runs of <c>_</c> squeezed, no leading digit.</summary>
    public static string Sanitize(string name) => Clean(name, allowColon: true);

    /// <summary>A valid label name (<c>[a-zA-Z_][a-zA-Z0-9_]*</c>, no colons).</summary>
    public static string LabelName(string key) => Clean(key, allowColon: false);

    private static string Clean(string name, bool allowColon)
    {
        if (name.Length == 0) return "_";
        var sb = new StringBuilder(name.Length + 1);
        if (char.IsAsciiDigit(name[0])) sb.Append('_');
        foreach (var c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            char next = ok ? c : '_';
            if (next == '_' && sb.Length > 0 && sb[^1] == '_') continue;
            sb.Append(next);
        }
        return sb.ToString();
    }
}
