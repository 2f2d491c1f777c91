namespace BlockSwarm.Observability.Logging;

/// <summary>How log events are written: one line each, either way.</summary>
public enum LogFormat
{
    /// <summary>A readable line: UTC time, level, category, event, message, exception message.</summary>
    Text,

    /// <summary>One JSON object per line (journald, log shippers), the fields of Microsoft's JSON console formatter.</summary>
    Json,
}
