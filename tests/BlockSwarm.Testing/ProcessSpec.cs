using System.Diagnostics;

namespace BlockSwarm.Testing;

/// <summary>
/// What to start and how: the program and its arguments, plus the options the different rigs need (a namespace to
/// run in, rusage measurement, a log file, a shared clock for timestamps). Immutable, so one spec can start many runs.
/// </summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public ProcessSpec(string fileName, params string[] arguments) : this(fileName, (IReadOnlyList<string>)arguments) { }

    /// <summary>Name used in logs and error messages; the program's file name when not set.</summary>
    public string? Label { get; init; }

    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    public string? WorkingDirectory { get; init; }

    /// <summary>Keeps standard input open as a pipe (write with <see cref="RunningProcess.WriteInput"/>, close with <see cref="RunningProcess.CloseInput"/>).</summary>
    public bool RedirectInput { get; init; }

    /// <summary>Runs inside this network namespace (<c>ip netns exec</c>, which execs the program: its pid is the program's).</summary>
    public string? Namespace { get; init; }

    /// <summary>
    /// Runs under GNU <c>/usr/bin/time</c>, so the program's CPU seconds and peak RSS come from the kernel's rusage when
    /// it is reaped (nothing sampled, nothing missed at exit): <see cref="RunningProcess.Usage"/>.
    /// </summary>
    public bool MeasureUsage { get; init; }

    /// <summary>Every output line is also appended here (long benchmark runs keep their logs beside the results).</summary>
    public string? LogFile { get; init; }

    /// <summary>Also called with every output line as it arrives (a driver that shows a child's output live).</summary>
    public Action<string>? Echo { get; init; }

    /// <summary>Stamps output lines and start/exit times; a rig that starts many processes passes one clock to all of them.</summary>
    public Stopwatch? Clock { get; init; }

    /// <summary>The command as a person would type it (without the namespace and time wrappers).</summary>
    public string CommandLine => string.Join(' ', Arguments.Prepend(FileName).Select(Quote));

    private static string Quote(string a) => a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"') ? a : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
