using Microsoft.Extensions.Logging;

namespace BlockSwarm.Observability.Logging;

/// <summary>
/// The logger factory of a BlockSwarm process: every event one line (text or JSON) on a writer, stderr in the CLI, so
/// stdout stays for command results. Lines are formatted on the logging thread and written by a background thread, so a
/// slow terminal or a full journald pipe does not stall the code that logs. Dispose the factory at exit: it writes what
/// is still queued and flushes.
/// </summary>
public static class LoggingSetup
{
    /// <summary>
    /// Builds the factory. ASP.NET Core's own categories (<c>Microsoft.*</c>: Kestrel, hosting) log warnings and errors
    /// only, whatever the level: at information they would add a line per HTTP request (every client reports every
    /// 1.5 s), and their debug output is about HTTP, not about deployments.
    /// </summary>
    public static ILoggerFactory CreateLoggerFactory(LogSettings settings, TextWriter output, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        var filter = new LoggerFilterOptions { MinLevel = settings.Level };
        var frameworkLevel = settings.Level > LogLevel.Warning ? settings.Level : LogLevel.Warning;
        filter.Rules.Add(new LoggerFilterRule(null, "Microsoft", frameworkLevel, null));
        ILogLineFormatter formatter = settings.Format == LogFormat.Json ? new JsonLineFormatter() : new TextLineFormatter();
        var factory = new LoggerFactory([], filter);
        // Added (not passed to the constructor) so that disposing the factory disposes the provider: drain and flush.
        factory.AddProvider(new LineLoggerProvider(formatter, output, time ?? TimeProvider.System));
        return factory;
    }
}
