using System.Net;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker.Client;

/// <summary>What the announce client and LSD log, source-generated. Event ids 2100–2199 are stable.</summary>
internal static partial class TrackerClientLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Warning,
        Message = "announce {AnnounceEvent} for {InfoHash} failed ({Failures} in a row): {Errors}; next try in {RetrySeconds:0.#} s")]
    public static partial void AnnounceFailed(ILogger logger, string announceEvent, InfoHash infoHash, int failures, string errors, double retrySeconds);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "announce for {InfoHash} to {Url} succeeded again after {Failures} failed attempts")]
    public static partial void AnnounceRecovered(ILogger logger, InfoHash infoHash, Uri url, int failures);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug,
        Message = "{Url} returned {Peers} peers for {InfoHash} ({Seeders} seeders, {Leechers} leechers); next announce in {IntervalSeconds:0} s")]
    public static partial void PeersReceived(ILogger logger, Uri url, int peers, InfoHash infoHash, int? seeders, int? leechers, double intervalSeconds);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "tracker {Url} failed for {InfoHash}, {Next} answered: {Error}")]
    public static partial void TrackerSkipped(ILogger logger, Uri url, InfoHash infoHash, Uri next, string error);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "tracker {Url} warns about {InfoHash}: {Warning}")]
    public static partial void TrackerWarning(ILogger logger, Uri url, InfoHash infoHash, string warning);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Debug, Message = "announce stopped for {InfoHash} to {Url}: {Error}")]
    public static partial void StopFailed(ILogger logger, InfoHash infoHash, Uri url, string error);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning,
        Message = "tracker {Url} is not announced to for {InfoHash}: a swarm secret is set and a {Scheme} tracker cannot carry its proof (only HTTP(S) trackers can)")]
    public static partial void TrackerCannotCarryProof(ILogger logger, Uri url, InfoHash infoHash, string scheme);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Debug, Message = "LSD listening on {Group} (cookie {Cookie})")]
    public static partial void LsdStarted(ILogger logger, IPEndPoint group, string cookie);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Warning, Message = "LSD announce of {InfoHash} to {Group} failed: {Error} (no multicast route? LSD stays best effort)")]
    public static partial void LsdSendFailed(ILogger logger, InfoHash infoHash, IPEndPoint group, string error);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Debug, Message = "LSD receive error, still listening: {Error}")]
    public static partial void LsdReceiveFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Debug, Message = "LSD ignored {Bytes} bytes from {Source}: not a BT-SEARCH announce")]
    public static partial void LsdMalformed(ILogger logger, int bytes, EndPoint source);

    [LoggerMessage(EventId = 2114, Level = LogLevel.Debug, Message = "LSD: peer {EndPoint} announces {InfoHash}")]
    public static partial void LsdPeer(ILogger logger, IPEndPoint endPoint, InfoHash infoHash);
}
