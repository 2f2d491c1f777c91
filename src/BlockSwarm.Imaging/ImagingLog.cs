using BlockSwarm.Imaging.Partitions;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Imaging;

/// <summary>
/// What the used-block mapping logs, source-generated. Event ids 3000–3099 are stable. Warnings the resolver returns
/// (<see cref="ResolvedMap.Warnings"/>) are its caller's to show, not logged here as well.
/// </summary>
internal static partial class ImagingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information,
        Message = "{Source}: used-block map by {Method}: {UsedBytes} of {SourceBytes} bytes in {Extents} extents")]
    public static partial void MapResolved(ILogger logger, string source, string method, long usedBytes, long sourceBytes, int extents);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "{Source}: {Scheme} partition table, {Volumes} volumes")]
    public static partial void PartitionTable(ILogger logger, string source, PartitionScheme scheme, int volumes);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "{Source}: volume {Partition}: {FileSystem}")]
    public static partial void Volume(ILogger logger, string source, Partition partition, string fileSystem);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "{Source}: no filesystem recognised at byte {Offset} ({Length} bytes): mapping its non-zero blocks")]
    public static partial void NonZeroFallback(ILogger logger, string source, long offset, long length);
}
