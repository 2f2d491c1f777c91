using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Observability.Logging;

/// <summary>
/// Loggers that format each event as one line (<see cref="ILogLineFormatter"/>) and queue it for a writer. Scopes come
/// from the factory (<see cref="ISupportExternalScope"/>) and are written with every event inside them.
/// </summary>
internal sealed class LineLoggerProvider(ILogLineFormatter formatter, TextWriter output, TimeProvider time) : ILoggerProvider, ISupportExternalScope
{
    private readonly LogLineQueue _queue = new(output);
    private IExternalScopeProvider? _scopes;

    public ILogger CreateLogger(string categoryName) => new LineLogger(categoryName, this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    internal IExternalScopeProvider? Scopes => _scopes;

    internal void Write<TState>(in LogEntry<TState> entry) => _queue.Enqueue(formatter.Format(in entry, _scopes, time.GetUtcNow()));

    public void Dispose() => _queue.Dispose();

    private sealed class LineLogger(string category, LineLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => provider.Scopes?.Push(state);

        // Levels are filtered by the factory's rules before a provider's logger is asked.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            provider.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter));
        }
    }
}
