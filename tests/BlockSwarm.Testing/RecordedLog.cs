using Microsoft.Extensions.Logging;

namespace BlockSwarm.Testing;

/// <summary>One event a <see cref="RecordingLoggerFactory"/> logger received, message already formatted.</summary>
public sealed record RecordedLog(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception,
    IReadOnlyDictionary<string, object?> State)
{
    /// <summary>A named value of the message template (<c>{Target}</c> → <c>"Target"</c>), or null.</summary>
    public object? this[string name] => State.TryGetValue(name, out var v) ? v : null;

    public override string ToString() => $"{Level} {Category}[{EventId.Id} {EventId.Name}] {Message}{(Exception is null ? "" : " — " + Exception.Message)}";
}
