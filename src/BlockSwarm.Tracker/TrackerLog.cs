using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker.Client;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker;

/// <summary>
/// What the tracker server logs, source-generated: every refused announce with its source address and reason.
/// Event ids 2000–2099 are stable. The announce path stays cheap: nothing is formatted unless the level is on.
/// </summary>
internal static partial class TrackerLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "tracker listening on {EndPoint}, serving every torrent")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Information, Message = "tracker listening on {EndPoint}, serving only the {Count} info-hashes on the allow list")]
    public static partial void ListeningAllowList(ILogger logger, IPEndPoint endPoint, int count);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Information,
        Message = "tracker needs the swarm secret {SecretId} in every announce: standard BitTorrent clients are refused, scrape is off")]
    public static partial void SecretRequired(ILogger logger, string secretId);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Warning, Message = "announce from {Source} for {InfoHash} refused: {Reason} (the swarm secret is needed)")]
    public static partial void AnnounceUnproven(ILogger logger, IPAddress source, InfoHash infoHash, string reason);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "scrape from {Source} refused: the tracker serves a secret swarm and tells no one its counts")]
    public static partial void ScrapeRefused(ILogger logger, IPAddress source);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "announce from {Source} refused: malformed request ({Reason})")]
    public static partial void AnnounceMalformed(ILogger logger, IPAddress source, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "announce from {Source} for {InfoHash} refused: info-hash not on the allow list")]
    public static partial void AnnounceNotAllowed(ILogger logger, IPAddress source, InfoHash infoHash);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning,
        Message = "announces from {Source} are rate limited: more than {Burst} at once or {PerSecond} a second sustained; further refusals are logged at debug until it slows down")]
    public static partial void RateLimited(ILogger logger, IPAddress source, int burst, double perSecond);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "announce from {Source} for {InfoHash} refused: rate limited")]
    public static partial void RateLimitedAgain(ILogger logger, IPAddress source, InfoHash infoHash);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "announce from {Source} for {InfoHash} refused: the tracker is full ({MaxSwarms} torrents)")]
    public static partial void TrackerFull(ILogger logger, IPAddress source, InfoHash infoHash, int maxSwarms);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "announce from {Source} failed inside the tracker (answered with a failure reason)")]
    public static partial void AnnounceError(ILogger logger, IPAddress source, Exception exception);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Debug,
        Message = "announce {AnnounceEvent} from {EndPoint} for {InfoHash}: {Left} bytes left; {Peers} peers returned ({Seeders} seeders, {Leechers} leechers in the swarm)")]
    public static partial void Announced(ILogger logger, AnnounceEvent announceEvent, IPEndPoint endPoint, InfoHash infoHash, long left, int peers, int seeders, int leechers);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Debug, Message = "scrape refused: {Reason}")]
    public static partial void ScrapeMalformed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Error, Message = "scrape failed inside the tracker (answered with a failure reason)")]
    public static partial void ScrapeError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "expired {Peers} silent peers; {Swarms} swarms left")]
    public static partial void Expired(ILogger logger, int peers, int swarms);
}
