using Microsoft.Extensions.Logging;

namespace BlockSwarm.Deploy.Client;

/// <summary>What <c>deploy</c> logs, source-generated. Event ids 1100–1199 are stable.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
        Message = "job {JobId} from {Server}: {Name} ({InfoHash}), {TotalBytes} bytes in {PieceCount} pieces, needs a target of at least {RequiredBytes} bytes; policy {Policy}")]
    public static partial void JobFetched(ILogger logger, string jobId, Uri server, string name, string infoHash, long totalBytes, int pieceCount, long requiredBytes, Api.CompletionPolicy policy);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "server {Server} not reachable (attempt {Attempt}): {Error}; retrying in {DelaySeconds:0} s")]
    public static partial void ServerRetry(ILogger logger, Uri server, int attempt, string error, double delaySeconds);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "server {Server} unreachable or not a BlockSwarm server after {Attempts} attempts: {Error}")]
    public static partial void ServerUnreachable(ILogger logger, Uri server, int attempts, string error);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "cannot get the job's torrent from {Server}: {Error}")]
    public static partial void TorrentUnavailable(ILogger logger, Uri server, string error);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "job changed on {Server} while it was being fetched (info-hash {Got}, job says {Expected}); run deploy again")]
    public static partial void JobChangedWhileFetching(ILogger logger, Uri server, string got, string expected);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "target {Target} refused: {Reason}")]
    public static partial void TargetRefused(ILogger logger, string target, string reason);

    [LoggerMessage(EventId = 1120, Level = LogLevel.Information, Message = "--target auto chose {Target}, the one internal disk")]
    public static partial void TargetChosen(ILogger logger, string target);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "target {Target} ({Kind}, {Size} bytes) accepted as client {ClientId}")]
    public static partial void TargetAccepted(ILogger logger, string target, string kind, long size, string clientId);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Error, Message = "cannot open target {Target} for writing: {Error}")]
    public static partial void TargetOpenFailed(ILogger logger, string target, string error);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Information, Message = "target {Target}: {Pieces} of {PieceCount} pieces already in place ({Reason})")]
    public static partial void Recovered(ILogger logger, string target, int pieces, int pieceCount, string reason);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "downloading into {Target} from {Server}, peers on {EndPoint}")]
    public static partial void DownloadStarted(ILogger logger, string target, Uri server, System.Net.IPEndPoint? endPoint);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Error, Message = "the server's job changed mid-run ({OldJob} → {NewJob}): {Target} is incomplete, run deploy again")]
    public static partial void JobChanged(ILogger logger, string oldJob, string newJob, string target);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Error,
        Message = "verify after writing failed on {Target}: {Bad} of {PieceCount} pieces read back wrong, the device may be failing")]
    public static partial void VerifyAfterFailed(ILogger logger, string target, int bad, int pieceCount);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Information, Message = "target {Target} verified: every piece read back right")]
    public static partial void VerifyAfterPassed(ILogger logger, string target);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Information, Message = "{Target} complete: every piece verified and on stable storage ({Downloaded} bytes downloaded, {FromOrigin} from the origin)")]
    public static partial void Complete(ILogger logger, string target, long downloaded, long fromOrigin);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "stopped seeding after {Seconds:0} s: {Reason} ({Uploaded} bytes uploaded)")]
    public static partial void SeedingStopped(ILogger logger, double seconds, string reason, long uploaded);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Error, Message = "deployment to {Target} failed: {Error}")]
    public static partial void Failed(ILogger logger, string target, string error);

    [LoggerMessage(EventId = 1116, Level = LogLevel.Warning, Message = "interrupted at {Percent:0.0}% on {Target}: verified pieces are kept and a rerun resumes")]
    public static partial void Interrupted(ILogger logger, double percent, string target);

    [LoggerMessage(EventId = 1117, Level = LogLevel.Warning, Message = "status report to {Server} failed: {Error}; the deployment goes on and reports resume when the server is back")]
    public static partial void ReportFailed(ILogger logger, Uri server, string error);

    [LoggerMessage(EventId = 1118, Level = LogLevel.Information, Message = "status reports to {Server} go through again")]
    public static partial void ReportRecovered(ILogger logger, Uri server);

    [LoggerMessage(EventId = 1119, Level = LogLevel.Information, Message = "deployment of {Target} finished")]
    public static partial void Done(ILogger logger, string target);
}
