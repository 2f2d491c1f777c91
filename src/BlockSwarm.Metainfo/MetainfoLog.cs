using Microsoft.Extensions.Logging;

namespace BlockSwarm.Metainfo;

/// <summary>What torrent creation logs, source-generated. Event ids 3100–3199 are stable.</summary>
internal static partial class MetainfoLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Debug, Message = "{Source}: hashing {Bytes} bytes in pieces of {PieceLength} bytes")]
    public static partial void Hashing(ILogger logger, string source, long bytes, int pieceLength);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information,
        Message = "created torrent {Name} ({InfoHash}) from {Source}: {PieceCount} pieces of {PieceLength} bytes, {Bytes} bytes hashed in {Seconds:0.00} s")]
    public static partial void Created(ILogger logger, string name, InfoHash infoHash, string source, int pieceCount, int pieceLength, long bytes, double seconds);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "{Source}: {Count} piece hashes match partclone's torrent.info")]
    public static partial void PartcloneHashesMatch(ILogger logger, string source, int count);
}
