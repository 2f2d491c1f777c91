using Microsoft.Extensions.Logging;

namespace BlockSwarm.Testing;

/// <summary>
/// An in-memory <see cref="ILoggerFactory"/> (and provider) that records every event at or above
/// <see cref="MinLevel"/>: pass it wherever a component takes a logger factory and assert on <see cref="Entries"/>.
/// Thread-safe. Scopes are accepted and ignored.
/// </summary>
public sealed class RecordingLoggerFactory : ILoggerFactory, ILoggerProvider
{
    private readonly List<RecordedLog> _entries = [];

    public LogLevel MinLevel { get; init; } = LogLevel.Trace;

    /// <summary>Everything recorded so far, in order (a copy).</summary>
    public IReadOnlyList<RecordedLog> Entries
    {
        get { lock (_entries) return [.. _entries]; }
    }

    /// <summary>Entries with this event name (the [LoggerMessage] method's name unless it sets another).</summary>
    public IReadOnlyList<RecordedLog> Named(string eventName) => [.. Entries.Where(e => e.EventId.Name == eventName)];

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(categoryName, this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("a recording factory records; it has no other providers");

    public void Clear()
    {
        lock (_entries) _entries.Clear();
    }

    public void Dispose() { }

    private void Add(RecordedLog entry)
    {
        lock (_entries) _entries.Add(entry);
    }

    private sealed class RecordingLogger(string category, RecordingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= owner.MinLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
                foreach (var (k, v) in pairs) values[k] = v;
            owner.Add(new RecordedLog(category, logLevel, eventId, formatter(state, exception), exception, values));
        }
    }
}
