namespace BlockSwarm.Testing;

/// <summary>
/// Prometheus' own checker of the text exposition format (<c>promtool check metrics</c>: parse errors and lint such as
/// missing help, counters without <c>_total</c>, non-base units), from Debian's <c>prometheus</c> package.
/// </summary>
public static class Promtool
{
    public const string SkipReason = "promtool is not installed (Debian package prometheus; scripts/install-deps.sh installs it, CI has it)";

    public static bool Available => Tool.Exists("promtool");

    /// <summary>Runs <c>promtool check metrics</c> on the text; exit code 0 means valid and lint-clean.</summary>
    public static Tool.Result CheckMetrics(string exposition) =>
        Tool.Run("promtool", ["check", "metrics"], check: false, stdin: exposition, timeout: TimeSpan.FromSeconds(30));
}
