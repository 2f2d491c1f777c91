using BlockSwarm.Deploy.Api;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// What <c>serve</c> logs, source-generated (no formatting unless the level is on). Event ids 1000–1099 are stable:
/// operators filter and alert on them.
/// </summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information,
        Message = "job {JobId} published: {Name} ({InfoHash}), {TotalBytes} bytes in {PieceCount} pieces; origin seeder on port {OriginPort}, HTTP on {HttpAddress}; policy {Policy}, expecting {Expected} clients")]
    public static partial void JobPublished(ILogger logger, string jobId, string name, string infoHash, long totalBytes, int pieceCount, int originPort, Uri httpAddress, CompletionPolicy policy, int expected);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "client {ClientId} registered: host {Host}, address {Address}, target {Target}, state {State}")]
    public static partial void ClientRegistered(ILogger logger, string clientId, string host, string address, string target, string state);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "client {ClientId} ({Host}, {Address}): {OldState} → {NewState}")]
    public static partial void ClientStateChanged(ILogger logger, string clientId, string host, string address, string oldState, string newState);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information,
        Message = "client {ClientId} ({Host}, {Address}) is done: {Bytes} bytes verified and on stable storage ({Done} of {Expected} expected done)")]
    public static partial void ClientDone(ILogger logger, string clientId, string host, string address, long bytes, int done, int expected);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "client {ClientId} ({Host}, {Address}) failed on {Target}: {Error}")]
    public static partial void ClientFailed(ILogger logger, string clientId, string host, string address, string target, string error);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "client {ClientId} ({Host}, {Address}) refused its target {Target}: {Error}")]
    public static partial void ClientRefused(ILogger logger, string clientId, string host, string address, string target, string error);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "client {ClientId} ({Host}, {Address}) was interrupted at {Percent:0.0}%; a rerun resumes")]
    public static partial void ClientInterrupted(ILogger logger, string clientId, string host, string address, double percent);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "status report from {Address} for client {ClientId} rejected: {Reason}")]
    public static partial void ReportRejected(ILogger logger, string address, string clientId, string reason);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning,
        Message = "status report from {Address} for new client {ClientId} refused: the registry is full ({Clients} clients)")]
    public static partial void RegistryFull(ILogger logger, string address, string clientId, int clients);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning,
        Message = "client {ClientId} ({Address}) reports on info-hash {Reported}, not this job's {InfoHash}: is it running an earlier job?")]
    public static partial void WrongJob(ILogger logger, string clientId, string address, string reported, string infoHash);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "all {Expected} expected clients are done")]
    public static partial void AllClientsDone(ILogger logger, int expected);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Debug, Message = "policy {Policy}: client {ClientId} keeps seeding ({Reason})")]
    public static partial void PolicyKeepSeeding(ILogger logger, CompletionPolicy policy, string clientId, string reason);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information, Message = "policy {Policy}: client {ClientId} is told to stop seeding ({Reason})")]
    public static partial void PolicyStopSeeding(ILogger logger, CompletionPolicy policy, string clientId, string reason);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "status report from {Address} for client {ClientId} refused: {Reason}")]
    public static partial void StatusRefused(ILogger logger, string address, string clientId, string reason);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Debug, Message = "client {ClientId} enrolled from {Address} ({How})")]
    public static partial void ClientEnrolled(ILogger logger, string clientId, string address, string how);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "enrolment of client {ClientId} from {Address} refused: {Reason}")]
    public static partial void EnrolRefused(ILogger logger, string clientId, string address, string reason);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "operator action '{Action}' from {Address} refused: {Reason}")]
    public static partial void OperatorRefused(ILogger logger, string action, string address, string reason);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Information, Message = "operator action from {Address}: {Action}")]
    public static partial void OperatorAction(ILogger logger, string address, string action);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Warning, Message = "dashboard read {Path} from {Address} refused: {Reason}")]
    public static partial void DashboardRefused(ILogger logger, string path, string address, string reason);

    [LoggerMessage(EventId = 1019, Level = LogLevel.Information,
        Message = "jobs are signed by server key {Fingerprint} ({Source}); clients pin it with deploy --server-key {Fingerprint} (netboot: blockswarm.server_key=)")]
    public static partial void SigningKey(ILogger logger, string fingerprint, string source);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "created signing key {File} (mode 0600), fingerprint {Fingerprint}")]
    public static partial void SigningKeyCreated(ILogger logger, string file, string fingerprint);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Information, Message = "created operator token file {File} (mode 0600): operator actions{Dashboard} need its contents")]
    public static partial void OperatorTokenCreated(ILogger logger, string file, string dashboard);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void KeyFileReadable(ILogger logger, string warning);

    [LoggerMessage(EventId = 1023, Level = LogLevel.Information, Message = "TLS on {HttpAddress}: certificate key {Fingerprint} ({How}){Netboot}")]
    public static partial void TlsOn(ILogger logger, Uri httpAddress, string fingerprint, string how, string netboot);

    [LoggerMessage(EventId = 1024, Level = LogLevel.Information, Message = "operator token from {Source}; reading the dashboard is {Access}")]
    public static partial void Access(ILogger logger, string source, string access);

    [LoggerMessage(EventId = 1025, Level = LogLevel.Debug, Message = "dashboard read {Path} from {Address} asked for the operator token (--dashboard token)")]
    public static partial void DashboardChallenge(ILogger logger, string path, string address);
}
