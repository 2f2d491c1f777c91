using System.Net;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// The engine's log events: source-generated, so a disabled level costs one check and no formatting or boxing, and
/// each event has a stable id for filters and log shippers. Nothing here runs per block: per-connection and per-piece
/// events at most (per piece only on failures).
/// </summary>
internal static partial class EngineLog
{
    // ---- host and connections: 1-19 ----------------------------------------------------------

    [LoggerMessage(1, LogLevel.Information, "listening for peers on {EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(2, LogLevel.Warning, "accepting a connection on {EndPoint} failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, string error);

    [LoggerMessage(3, LogLevel.Information, "refused connection from {Remote}: no torrent here has info-hash {InfoHash} (closed before sending a byte)")]
    public static partial void UnknownInfoHash(ILogger logger, IPEndPoint remote, string infoHash);

    [LoggerMessage(4, LogLevel.Warning, "refused connection from {Remote}: {Open} connections open, the engine's limit is {Limit}")]
    public static partial void OverConnectionLimit(ILogger logger, IPEndPoint remote, int open, int limit);

    [LoggerMessage(5, LogLevel.Debug, "{Direction} connection {Remote} ended during the handshake: {Error}")]
    public static partial void HandshakeFailed(ILogger logger, string direction, IPEndPoint remote, string error);

    [LoggerMessage(6, LogLevel.Information, "added {Torrent} ({InfoHash}): {Pieces} pieces of {PieceLength} bytes, {Have} verified; {Role}")]
    public static partial void TorrentAdded(ILogger logger, string torrent, string infoHash, int pieces, int pieceLength, int have, string role);

    [LoggerMessage(7, LogLevel.Information, "removed {Torrent} ({InfoHash})")]
    public static partial void TorrentRemoved(ILogger logger, string torrent, string infoHash);

    [LoggerMessage(8, LogLevel.Debug, "{Torrent}: dialing {Remote} failed: {Error}; next attempt in {Retry}")]
    public static partial void DialFailed(ILogger logger, string torrent, IPEndPoint remote, string error, TimeSpan retry);

    [LoggerMessage(9, LogLevel.Warning, "local service discovery (LSD) could not start: {Error}; peers come from trackers and PEX only")]
    public static partial void LsdFailed(ILogger logger, string error);

    [LoggerMessage(10, LogLevel.Information, "stopped: {Torrents} torrents, {Connections} connections closed")]
    public static partial void Stopped(ILogger logger, int torrents, int connections);

    [LoggerMessage(11, LogLevel.Warning, "refused connection from {Remote}: {Reason} (swarm secret {SecretId}; nothing of any torrent was sent)")]
    public static partial void SecretRefusedIncoming(ILogger logger, IPEndPoint remote, string reason, string secretId);

    [LoggerMessage(12, LogLevel.Warning, "{Torrent}: gave up on {Remote}: {Reason} (swarm secret {SecretId}; nothing of the torrent was sent)")]
    public static partial void SecretRefusedOutgoing(ILogger logger, string torrent, IPEndPoint remote, string reason, string secretId);

    [LoggerMessage(14, LogLevel.Debug, "connection from {Remote} ended before it proved the swarm secret: {Reason}")]
    public static partial void SecretHandshakeAbandoned(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(13, LogLevel.Information, "peer connections are authenticated and encrypted ({Suites}: the first both sides run) with swarm secret {SecretId} ({Source}); standard BitTorrent clients cannot join")]
    public static partial void SecretInUse(ILogger logger, string suites, string secretId, string source);

    [LoggerMessage(19, LogLevel.Warning, "compressed transfer (bs_zstd) is off: {Reason}; pieces travel uncompressed")]
    public static partial void CompressionUnavailable(ILogger logger, string reason);

    // ---- one torrent's peers: 20-39 ------------------------------------------------------------

    [LoggerMessage(20, LogLevel.Debug, "{Torrent}: connected to {Remote} ({Direction}, {Client}); {Peers} peers")]
    public static partial void PeerConnected(ILogger logger, string torrent, IPEndPoint remote, string direction, string client, int peers);

    [LoggerMessage(21, LogLevel.Debug, "{Torrent}: connection to {Remote} closed ({Reason}{Detail}); {Received} bytes received, {Sent} sent in {Duration}")]
    public static partial void PeerClosed(ILogger logger, string torrent, IPEndPoint remote, string reason, string detail, long received, long sent, TimeSpan duration);

    [LoggerMessage(22, LogLevel.Warning, "{Torrent}: closed {Remote} for a protocol violation: {Error}")]
    public static partial void ProtocolViolation(ILogger logger, string torrent, IPEndPoint remote, string error);

    [LoggerMessage(23, LogLevel.Error, "{Torrent}: the engine failed serving {Remote} (a bug; the connection is closed): {Error}")]
    public static partial void HandlerFailed(ILogger logger, string torrent, IPEndPoint remote, string error, Exception exception);

    [LoggerMessage(24, LogLevel.Warning, "{Torrent}: banned {Remote} ({Client}): it alone supplied pieces that failed their SHA-1 check, the last piece {Piece}; its address is refused from now on")]
    public static partial void PeerBanned(ILogger logger, string torrent, IPEndPoint remote, string client, int piece);

    [LoggerMessage(25, LogLevel.Warning, "{Torrent}: piece {Piece} (bytes {Offset}..{End} of the torrent) failed its SHA-1 check; it is requested again")]
    public static partial void HashFailed(ILogger logger, string torrent, int piece, long offset, long end);

    [LoggerMessage(26, LogLevel.Error, "{Torrent}: stopped: {Error}")]
    public static partial void TorrentFailed(ILogger logger, string torrent, string error);

    [LoggerMessage(27, LogLevel.Information, "{Torrent}: complete: {Pieces} pieces verified and on stable storage ({Bytes} bytes)")]
    public static partial void Complete(ILogger logger, string torrent, int pieces, long bytes);

    [LoggerMessage(37, LogLevel.Debug, "{Torrent}: closed {Remote}: both of us are seeds, the connection carries nothing (its slot is for a leecher)")]
    public static partial void RedundantClosed(ILogger logger, string torrent, IPEndPoint remote);

    [LoggerMessage(28, LogLevel.Debug, "{Torrent}: refused {Remote}: {Reason}")]
    public static partial void PeerRefused(ILogger logger, string torrent, IPEndPoint remote, string reason);

    [LoggerMessage(29, LogLevel.Information, "{Torrent}: origin spreading {State}: {Reason}")]
    public static partial void OriginSpreading(ILogger logger, string torrent, string state, string reason);

    [LoggerMessage(30, LogLevel.Warning, "{Torrent}: uploading to {Remote} failed: {Error}; the connection is closed")]
    public static partial void UploadFailed(ILogger logger, string torrent, IPEndPoint remote, string error);

    [LoggerMessage(32, LogLevel.Debug, "{Torrent}: {Count} peers from {Source}")]
    public static partial void PeersDiscovered(ILogger logger, string torrent, int count, string source);

    [LoggerMessage(33, LogLevel.Warning, "{Torrent}: a housekeeping tick failed: {Error}")]
    public static partial void TickFailed(ILogger logger, string torrent, string error);

    [LoggerMessage(34, LogLevel.Debug, "{Torrent}: choker unchoked {Unchoked} of {Interested} interested peers (seeding: {Seeding})")]
    public static partial void Choked(ILogger logger, string torrent, int unchoked, int interested, bool seeding);

    [LoggerMessage(35, LogLevel.Information, "{Torrent}: paused: {Peers} peers closed, trackers told stopped; verified pieces kept")]
    public static partial void Paused(ILogger logger, string torrent, int peers);

    [LoggerMessage(36, LogLevel.Information, "{Torrent}: resumed")]
    public static partial void Resumed(ILogger logger, string torrent);

    // ---- storage: 40-49 -----------------------------------------------------------------------

    [LoggerMessage(40, LogLevel.Debug, "{Target}: writing with O_DIRECT, past the page cache ({Alignment}-byte alignment, up to {BounceBytes} bytes of bounce buffers)")]
    public static partial void WritingDirect(ILogger logger, string target, int alignment, int bounceBytes);

    /// <summary>Information where buffered is what a careful operator would pick anyway (tmpfs), a warning elsewhere.</summary>
    [LoggerMessage(EventId = 41, Message = "{Target}: writing through the page cache, not with O_DIRECT: {Reason}")]
    public static partial void WritingBuffered(ILogger logger, LogLevel level, string target, string reason);
}
