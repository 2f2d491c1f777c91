using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Tests.Hosting;

/// <summary>An <see cref="ILoggerFactory"/> that keeps every log line in memory, for tests that assert what an operator would read.</summary>
internal sealed class LogRecorder : ILoggerFactory, ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public sealed record Entry(LogLevel Level, string Category, EventId Id, string Message);

    public IReadOnlyList<Entry> Entries => [.. _entries];

    /// <summary>Entries of event <paramref name="name"/> (the [LoggerMessage] method name).</summary>
    public IReadOnlyList<Entry> Named(string name) => [.. _entries.Where(e => e.Id.Name == name)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new Entry(logLevel, category, eventId, formatter(state, exception)));
    }
}
