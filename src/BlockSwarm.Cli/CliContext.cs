using BlockSwarm.Observability.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Cli;

/// <summary>Where commands write, whether a person is watching (progress bars) or a script (plain lines), and where they log.</summary>
public sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, bool interactive)
    {
        Out = output;
        // Log lines are written from a background thread while commands write here too: one lock for both
        // (Console.Error already is synchronized; a test's StringWriter is not).
        Err = TextWriter.Synchronized(error);
        Interactive = interactive;
    }

    public TextWriter Out { get; }
    public TextWriter Err { get; }
    public bool Interactive { get; }

    /// <summary>
    /// Loggers of the running command, per <c>--log-level</c>/<c>--log-format</c> (lines on <see cref="Err"/>); set by
    /// <see cref="CliApp.RunAsync(string[], CliContext, CancellationToken)"/> for the command's duration, flushed at its end.
    /// </summary>
    public ILoggerFactory LoggerFactory { get; internal set; } = NullLoggerFactory.Instance;

    /// <summary>The log level and format in force (what child processes, e.g. the demo's, are started with).</summary>
    public LogSettings LogSettings { get; internal set; } = new();

    public static CliContext FromConsole() =>
        new(Console.Out, Console.Error, !Console.IsOutputRedirected && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null);

    public void Warn(string message) => Err.WriteLine($"warning: {message}");

    public void Fail(string message) => Err.WriteLine($"error: {message}");
}
