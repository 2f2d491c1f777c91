using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Observability.Logging;

/// <summary>Turns one log event into one line of text, ending with <c>\n</c> and holding no other line break.</summary>
internal interface ILogLineFormatter
{
    string Format<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopes, DateTimeOffset time);
}
