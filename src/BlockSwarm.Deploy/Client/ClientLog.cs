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

    [LoggerMessage(EventId = 1121, Level = LogLevel.Error,
        Message = "server {Server} refused: {Reason} (expected key {Expected}, offered {Offered}); nothing was written to {Target}")]
    public static partial void ServerRefused(ILogger logger, Uri server, string reason, string expected, string offered, string target);

    [LoggerMessage(EventId = 1122, Level = LogLevel.Warning,
        Message = "server {Server} is not authenticated ({Detail}): with no --server-key, any host answering at this URL could hand this machine another image")]
    public static partial void ServerNotAuthenticated(ILogger logger, Uri server, string detail);

    [LoggerMessage(EventId = 1123, Level = LogLevel.Information, Message = "job {JobId} from {Server} is signed by server key {Fingerprint} ({How}), issued at {IssuedAt}")]
    public static partial void ServerAuthenticated(ILogger logger, string jobId, Uri server, string fingerprint, string how, string issuedAt);

    [LoggerMessage(EventId = 1124, Level = LogLevel.Warning,
        Message = "trust on first use: recorded server key {Fingerprint} of {Server} in {File}; a server with another key will be refused from now on")]
    public static partial void ServerKeyRecorded(ILogger logger, string fingerprint, Uri server, string file);

    [LoggerMessage(EventId = 1125, Level = LogLevel.Warning,
        Message = "job {JobId} from {Server} was signed at {IssuedAt:u}, {Minutes:0} minutes from this machine's clock: a job replayed by another host, or a wrong clock?")]
    public static partial void JobIssuedLongAgo(ILogger logger, string jobId, Uri server, DateTimeOffset issuedAt, double minutes);

    [LoggerMessage(EventId = 1126, Level = LogLevel.Error,
        Message = "torrent {Url} refused: its SHA-256 {Got} is not the {Expected} the signed job names (changed on the way); nothing was written to {Target}")]
    public static partial void TorrentRefused(ILogger logger, Uri url, string got, string expected, string target);

    [LoggerMessage(EventId = 1127, Level = LogLevel.Error, Message = "server {Server} refused client id {ClientId}: {Reason}; nothing was written to {Target}")]
    public static partial void EnrolRefused(ILogger logger, Uri server, string clientId, string reason, string target);

    [LoggerMessage(EventId = 1128, Level = LogLevel.Warning, Message = "could not enrol client {ClientId} with {Server} ({Error}): status reports may be refused")]
    public static partial void EnrolFailed(ILogger logger, Uri server, string clientId, string error);

    [LoggerMessage(EventId = 1129, Level = LogLevel.Warning, Message = "status report of client {ClientId} refused by {Server} ({Reason}); enrolling again")]
    public static partial void ReportUnauthorized(ILogger logger, Uri server, string clientId, string reason);

    [LoggerMessage(EventId = 1130, Level = LogLevel.Error, Message = "cannot join the swarm of {Server}: {Reason}; nothing was written to {Target}")]
    public static partial void SecretMismatch(ILogger logger, Uri server, string reason, string target);
}
