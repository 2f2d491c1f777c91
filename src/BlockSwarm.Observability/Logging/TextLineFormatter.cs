using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Observability.Logging;

/// <summary>
/// <c>2026-12-03T10:15:30.123Z error DeployClient[1105] TargetRefused: target /dev/sda refused: ... — IOException: ...</c>:
/// UTC time, level, the category's last name, event id and name, the message, and the exception's type and message
/// (inner ones after <c>→</c>) on the same line. No stack trace and no scopes: a line an operator reads, and ASP.NET
/// Core opens a scope per request (connection and request ids) that would precede every server line. The JSON format
/// carries both; messages name what they are about (client, target, peer) themselves.
/// </summary>
internal sealed class TextLineFormatter : ILogLineFormatter
{
    public string Format<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopes, DateTimeOffset time)
    {
        var sb = new StringBuilder(160);
        sb.Append(time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)).Append(' ');
        sb.Append(LevelText(entry.LogLevel)).Append(' ');
        sb.Append(ShortCategory(entry.Category));
        if (entry.EventId.Id != 0) sb.Append('[').Append(entry.EventId.Id.ToString(CultureInfo.InvariantCulture)).Append(']');
        if (!string.IsNullOrEmpty(entry.EventId.Name)) sb.Append(' ').Append(entry.EventId.Name);
        sb.Append(": ");
        AppendOneLine(sb, entry.Formatter?.Invoke(entry.State, entry.Exception) ?? entry.State?.ToString() ?? "");
        for (var ex = entry.Exception; ex != null; ex = ex.InnerException)
        {
            sb.Append(ex == entry.Exception ? " — " : " → ").Append(ex.GetType().Name).Append(": ");
            AppendOneLine(sb, ex.Message);
        }
        return sb.Append('\n').ToString();
    }

    private static string LevelText(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info ",
        LogLevel.Warning => "warn ",
        LogLevel.Error => "error",
        LogLevel.Critical => "crit ",
        _ => "none ",
    };

    /// <summary><c>BlockSwarm.Deploy.Client.DeployClient</c> → <c>DeployClient</c>.</summary>
    internal static string ShortCategory(string category)
    {
        int dot = category.LastIndexOf('.');
        return dot >= 0 && dot < category.Length - 1 ? category[(dot + 1)..] : category;
    }

    /// <summary>Line breaks inside a message become a visible <c>\n</c>: one event, one line.</summary>
    private static void AppendOneLine(StringBuilder sb, string text)
    {
        foreach (var c in text)
        {
            if (c == '\n') sb.Append(@"\n");
            else if (c != '\r') sb.Append(c);
        }
    }
}
