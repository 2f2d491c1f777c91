using Microsoft.Extensions.Logging;

namespace BlockSwarm.Observability.Logging;

/// <summary>
/// The minimum level and the line format of a process's logs, as the CLI's <c>--log-level</c>/<c>--log-format</c> give
/// them, with defaults from <c>BLOCKSWARM_LOG_LEVEL</c>/<c>BLOCKSWARM_LOG_FORMAT</c> (a systemd unit or a PXE image sets
/// them once for every command).
/// </summary>
public sealed record LogSettings
{
    public const string LevelVariable = "BLOCKSWARM_LOG_LEVEL";
    public const string FormatVariable = "BLOCKSWARM_LOG_FORMAT";

    /// <summary>Level names accepted, lowest first (Microsoft.Extensions.Logging's, lower case).</summary>
    public static IReadOnlyList<string> LevelNames { get; } = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    public static IReadOnlyList<string> FormatNames { get; } = ["text", "json"];

    public LogLevel Level { get; init; } = LogLevel.Information;

    public LogFormat Format { get; init; } = LogFormat.Text;

    public static LogLevel ParseLevel(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "information" or "info" => LogLevel.Information,
            "warning" or "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" => LogLevel.Critical,
            "none" => LogLevel.None,
            _ => throw new FormatException($"'{text}' is not a log level: use {string.Join(", ", LevelNames)}"),
        };
    }

    public static LogFormat ParseFormat(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "text" => LogFormat.Text,
            "json" => LogFormat.Json,
            _ => throw new FormatException($"'{text}' is not a log format: use text or json"),
        };
    }

    /// <summary>The level's name as <see cref="LevelNames"/> spell it.</summary>
    public static string LevelName(LogLevel level) => LevelNames[Math.Clamp((int)level, 0, LevelNames.Count - 1)];

    /// <summary>
    /// Defaults overridden by the environment variables that are set; a set but invalid one throws
    /// <see cref="FormatException"/> naming it (a typo in a unit file should be seen, not ignored).
    /// </summary>
    public static LogSettings FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var settings = new LogSettings();
        if (getVariable(LevelVariable) is { Length: > 0 } level)
        {
            try { settings = settings with { Level = ParseLevel(level) }; }
            catch (FormatException ex) { throw new FormatException($"{LevelVariable}: {ex.Message}", ex); }
        }
        if (getVariable(FormatVariable) is { Length: > 0 } format)
        {
            try { settings = settings with { Format = ParseFormat(format) }; }
            catch (FormatException ex) { throw new FormatException($"{FormatVariable}: {ex.Message}", ex); }
        }
        return settings;
    }
}
