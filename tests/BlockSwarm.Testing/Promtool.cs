namespace BlockSwarm.Testing;

/// <summary>
/// Prometheus' own checker of the text exposition format (<c>promtool check metrics</c>: parse errors and lint such as
/// missing help, counters without <c>_total</c>, non-base units), from Debian's <c>prometheus</c> package.
/// </summary>
public static class Promtool
{
    /// <summary>
    /// Runs <c>promtool check metrics</c> on the text; exit code 0 means valid and lint-clean. A test without promtool
    /// is skipped (Debian package prometheus; scripts/install-deps.sh installs it), and fails in CI, which has it.
    /// </summary>
    public static ProcessResult CheckMetrics(string exposition)
    {
        Requires.Tools("promtool");
        return Tool.Run("promtool", ["check", "metrics"], check: false, stdin: exposition, timeout: TimeSpan.FromSeconds(30));
    }
}
