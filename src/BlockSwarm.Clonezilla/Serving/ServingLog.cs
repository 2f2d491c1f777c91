using Microsoft.Extensions.Logging;

namespace BlockSwarm.Clonezilla.Serving;

/// <summary>Log events of serving out of compressed images (ids 3200-3219).</summary>
internal static partial class ServingLog
{
    [LoggerMessage(3200, LogLevel.Information,
        "{Stream}: decoded byte {Wanted} is behind the kept window (cursor at {Cursor}); decoding again from {Restart} ({MiB} MiB to skip)")]
    public static partial void Restart(ILogger logger, string stream, long wanted, long cursor, long restart, long miB);
}
