using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Observability.Logging;

/// <summary>
/// One JSON object per line with the fields of Microsoft's JSON console formatter (<c>Timestamp</c> in UTC,
/// <c>EventId</c>, <c>LogLevel</c>, <c>Category</c>, <c>Message</c>, <c>Exception</c>, <c>State</c>, <c>Scopes</c>), so
/// log-shipper set-ups made for .NET services read it as is, plus <c>EventName</c>. <c>State</c> holds the message's
/// named values (<c>{ClientId}</c> → <c>"ClientId"</c>) as JSON numbers, booleans or strings. Written by hand with
/// <see cref="Utf8JsonWriter"/>: no reflection, so it works in the NativeAOT binary.
/// </summary>
internal sealed class JsonLineFormatter : ILogLineFormatter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        // Logs are not HTML: keep non-ASCII text and '+', '<', '&' readable; quotes and control characters are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string Format<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopes, DateTimeOffset time)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("Timestamp", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("EventId", entry.EventId.Id);
            if (!string.IsNullOrEmpty(entry.EventId.Name)) json.WriteString("EventName", entry.EventId.Name);
            json.WriteString("LogLevel", entry.LogLevel.ToString());
            json.WriteString("Category", entry.Category);
            json.WriteString("Message", entry.Formatter?.Invoke(entry.State, entry.Exception) ?? entry.State?.ToString() ?? "");
            if (entry.Exception != null) json.WriteString("Exception", entry.Exception.ToString());
            if (entry.State is IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                json.WriteStartObject("State");
                foreach (var (key, value) in values)
                {
                    json.WritePropertyName(key);
                    WriteValue(json, value);
                }
                json.WriteEndObject();
            }
            if (scopes != null)
            {
                bool any = false;
                scopes.ForEachScope((scope, w) =>
                {
                    if (scope is null) return;
                    if (!any)
                    {
                        w.WriteStartArray("Scopes");
                        any = true;
                    }
                    WriteScope(w, scope);
                }, json);
                if (any) json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    /// <summary>A scope with named values (<c>BeginScope("peer {Peer}", ep)</c>) is an object with its message; others are strings.</summary>
    private static void WriteScope(Utf8JsonWriter json, object scope)
    {
        if (scope is IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            json.WriteStartObject();
            json.WriteString("Message", scope.ToString());
            foreach (var (key, value) in values)
            {
                json.WritePropertyName(key);
                WriteValue(json, value);
            }
            json.WriteEndObject();
        }
        else
        {
            json.WriteStringValue(scope.ToString());
        }
    }

    internal static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case byte n: json.WriteNumberValue(n); break;
            case short n: json.WriteNumberValue(n); break;
            case int n: json.WriteNumberValue(n); break;
            case long n: json.WriteNumberValue(n); break;
            case ushort n: json.WriteNumberValue(n); break;
            case uint n: json.WriteNumberValue(n); break;
            case ulong n: json.WriteNumberValue(n); break;
            case float n when float.IsFinite(n): json.WriteNumberValue(n); break;
            case double n when double.IsFinite(n): json.WriteNumberValue(n); break;
            case decimal n: json.WriteNumberValue(n); break;
            case DateTimeOffset t: json.WriteStringValue(t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTime t: json.WriteStringValue(t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)); break;
            case TimeSpan t: json.WriteNumberValue(t.TotalSeconds); break;
            case IFormattable f: json.WriteStringValue(f.ToString(null, CultureInfo.InvariantCulture)); break;
            default: json.WriteStringValue(value.ToString()); break;
        }
    }
}
