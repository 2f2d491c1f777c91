using Microsoft.Extensions.Logging;

namespace BlockSwarm.Ezio;

/// <summary>
/// The EZIO daemon's log events (ids 4000–4019), in the spirit of EZIO's <c>-v</c>: the API's requests, each torrent's
/// state changes, a status line per active torrent every few seconds, slow start, errors. Connections, bans, hash
/// failures and tracker failures are the engine's own events (ids 1–39, 2100–2114), logged through the same factory.
/// </summary>
internal static partial class EzioLog
{
    [LoggerMessage(4000, LogLevel.Information, "EZIO-compatible daemon {Version}: gRPC on {GrpcEndPoint}, BitTorrent on {PeerEndPoint}, {Mode}, cache {CacheMiB} MiB")]
    public static partial void Started(ILogger logger, string version, string grpcEndPoint, string peerEndPoint, string mode, long cacheMiB);

    [LoggerMessage(4001, LogLevel.Information, "AddTorrent {Torrent} ({InfoHash}) into {SavePath}: {Mode}, max_uploads {MaxUploads}, max_connections {MaxConnections}")]
    public static partial void Added(ILogger logger, string torrent, string infoHash, string savePath, string mode, int maxUploads, int maxConnections);

    [LoggerMessage(4002, LogLevel.Warning, "AddTorrent refused ({Code}): {Reason}")]
    public static partial void AddRefused(ILogger logger, string code, string reason);

    [LoggerMessage(4003, LogLevel.Information, "{Torrent}: state {From} -> {To}")]
    public static partial void StateChanged(ILogger logger, string torrent, string from, string to);

    [LoggerMessage(4004, LogLevel.Information, "{Torrent}: checked {SavePath}: {Reason}")]
    public static partial void Checked(ILogger logger, string torrent, string savePath, string reason);

    [LoggerMessage(4005, LogLevel.Error, "{Torrent}: stopped with an error (reported as paused): {Error}")]
    public static partial void TorrentError(ILogger logger, string torrent, string error);

    [LoggerMessage(4006, LogLevel.Information, "[{SavePath}][{Percent}%][D: {DownMiBps:0.00}MB/s][U: {UpMiBps:0.00}MB/s][{Paused}{Finished}][A: {Active}][F: {FinishedTime}][S: {Seeding}] {Peers} peers")]
    public static partial void Status(ILogger logger, string savePath, int percent, double downMiBps, double upMiBps, string paused, string finished,
        long active, long finishedTime, long seeding, long peers);

    [LoggerMessage(4007, LogLevel.Information, "PauseTorrent {Torrent} ({InfoHash})")]
    public static partial void PauseRequested(ILogger logger, string torrent, string infoHash);

    [LoggerMessage(4008, LogLevel.Information, "ResumeTorrent {Torrent} ({InfoHash})")]
    public static partial void ResumeRequested(ILogger logger, string torrent, string infoHash);

    [LoggerMessage(4009, LogLevel.Information, "shutdown requested ({Source}): stopping {Torrents} torrents, then flushing and fsyncing every target")]
    public static partial void ShutdownRequested(ILogger logger, string source, int torrents);

    [LoggerMessage(4010, LogLevel.Information, "shutdown complete: {Flushed} targets flushed and fsynced, resume files written")]
    public static partial void ShutdownComplete(ILogger logger, int flushed);

    [LoggerMessage(4011, LogLevel.Error, "shutdown: {SavePath} could not be flushed: {Error}")]
    public static partial void FlushFailed(ILogger logger, string savePath, string error);

    [LoggerMessage(4012, LogLevel.Information, "slow start: uploads capped at {StartMiB} MiB/s, {StepMiB} MiB/s more every {Period} s from the first upload, no cap from {LiftMiB} MiB/s on")]
    public static partial void SlowStart(ILogger logger, long startMiB, long stepMiB, double period, long liftMiB);

    [LoggerMessage(4013, LogLevel.Warning, "{Torrent}: seeding_mode source {SavePath} failed its spot check (piece {Piece}); hashing it all and seeding only the pieces that match")]
    public static partial void SpotCheckFailed(ILogger logger, string torrent, string savePath, int piece);

    [LoggerMessage(4014, LogLevel.Debug, "{Torrent}: sequential_download is accepted and ignored: pieces are picked rarest-first for the swarm, and the storage writes them sorted and coalesced anyway")]
    public static partial void SequentialIgnored(ILogger logger, string torrent);

    [LoggerMessage(4015, LogLevel.Debug, "GetTorrentStatus: {Count} torrents")]
    public static partial void StatusRequested(ILogger logger, int count);
}
