using System.Net;
using BlockSwarm.Engine.Compression;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Session;

// One connection's life in its torrent, and the narrow surface (IPeerSessionHost) its PeerSession sees.
public sealed partial class TorrentSession
{
    // ---- one connection ---------------------------------------------------------------------

    /// <summary>
    /// Runs a handshaken connection as one of this torrent's peers until it closes, then logs why it closed. Refuses
    /// (closes at once) a connection to ourselves, from a banned address, over the torrent's limit, or a duplicate.
    /// </summary>
    /// <param name="localAddress">Our address on this connection: a peer of another subnet is behind another switch
    /// (<see cref="ConnectionPolicy.IsBehindOtherSwitch"/>).</param>
    internal async Task RunPeerAsync(PeerConnection conn, Handshake theirs, IPEndPoint remote, bool outgoing, IPAddress? localAddress = null)
    {
        var ct = _stop.Token;
        if (ct.IsCancellationRequested) return;
        string? refusal = theirs.PeerIdBytes.SequenceEqual(_engine.PeerId.Span) ? "self"
            : IsPaused ? "paused"
            : Peers.IsBanned(remote.Address) ? "banned"
            : Peers.Count >= _options.MaxConnections ? "torrent_limit"
            : null;
        var peer = refusal is null
            ? new PeerSession(this, conn, Peers.NextHandle(), remote, theirs.SupportsFastExtension)
            {
                Outgoing = outgoing,
                BehindOtherSwitch = ConnectionPolicy.IsBehindOtherSwitch(_options, localAddress, remote.Address),
            }
            : null;
        if (peer != null && !Peers.TryRegister(peer, _engine.PeerId.Span, theirs.PeerIdBytes, Swarm)) refusal = "duplicate";
        // Paused while this one registered: PauseAsync may have closed the others before it appeared, so close it here.
        else if (peer != null && IsPaused) conn.Close();
        if (refusal != null)
        {
            _engine.Metrics.Refused(refusal);
            EngineLog.PeerRefused(_log, Name, remote, refusal switch
            {
                "self" => "it is ourselves",
                "banned" => "its address is banned",
                "paused" => "the torrent is paused",
                "torrent_limit" => $"{Peers.Count} peers connected, the torrent's limit is {_options.MaxConnections}",
                _ => "already connected to that peer id (the connection both sides keep stays)",
            });
            return;
        }
        string direction = outgoing ? "outgoing" : "incoming";
        _engine.Metrics.ConnectionsOpened.Add(1, new KeyValuePair<string, object?>("direction", direction));
        EngineLog.PeerConnected(_log, Name, remote, direction, ClientName(theirs.PeerIdBytes), Peers.Count);
        long opened = Time.GetTimestamp();
        SendInitialState(peer!);
        var uploads = peer!.RunUploadsAsync(ct);
        _choking.Request();
        var result = new PeerConnectionResult(PeerCloseReason.LocalClose);
        try
        {
            result = await conn.RunAsync(peer, _limits, ct).ConfigureAwait(false);
        }
        finally
        {
            peer.CompleteUploads();
            Peers.Remove(peer.Id);
            Counters.OnPeerClosed(peer);
            Swarm.RemovePeer(peer.Id);
            _origin?.RemovePeer(peer.Id);
            try { await uploads.ConfigureAwait(false); } catch (OperationCanceledException) { }
            _choking.Request();
            LogClosed(peer, result, Time.GetElapsedTime(opened));
        }
    }

    private void LogClosed(PeerSession peer, PeerConnectionResult result, TimeSpan duration)
    {
        _engine.Metrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", ReasonTag(result.Reason)));
        var remote = peer.Remote;
        switch (result.Reason)
        {
            case PeerCloseReason.ProtocolViolation:
                EngineLog.ProtocolViolation(_log, Name, remote, result.Error?.Message ?? "unspecified");
                break;
            case PeerCloseReason.HandlerError:
                EngineLog.HandlerFailed(_log, Name, remote, result.Error?.Message ?? "unspecified", result.Error!);
                break;
            default:
                if (_log.IsEnabled(LogLevel.Debug))
                    EngineLog.PeerClosed(_log, Name, remote, result.Reason.ToString(), result.Error is { } e ? ": " + e.Message : "",
                        peer.Connection.WireBytesReceived, peer.Connection.WireBytesSent, duration);
                break;
        }
    }

    private static string ReasonTag(PeerCloseReason reason) => reason switch
    {
        PeerCloseReason.LocalClose => "local_close",
        PeerCloseReason.RemoteClose => "remote_close",
        PeerCloseReason.ProtocolViolation => "protocol_violation",
        PeerCloseReason.Timeout => "timeout",
        PeerCloseReason.TransportError => "transport_error",
        _ => "handler_error",
    };

    /// <summary>"-BS0100-" → "BS0100", "-lt0D80-" → "lt0D80" (Azureus style); else the id's printable prefix.</summary>
    internal static string ClientName(ReadOnlySpan<byte> peerId)
    {
        if (peerId.Length >= 8 && peerId[0] == '-' && peerId[7] == '-') return System.Text.Encoding.ASCII.GetString(peerId[1..7]);
        int n = 0;
        while (n < Math.Min(8, peerId.Length) && peerId[n] is >= 0x20 and < 0x7f) n++;
        return n > 0 ? System.Text.Encoding.ASCII.GetString(peerId[..n]) : "unknown client";
    }

    private void SendInitialState(PeerSession peer)
    {
        if (peer.Connection.RemoteHandshake?.SupportsExtensionProtocol == true)
        {
            var messages = new Dictionary<string, byte>();
            if (PexEnabled) messages[PexMessage.ExtensionName] = ExtensionHandshake.PexId;
            if (Compression != null) messages[ZstdBlock.ExtensionName] = ExtensionHandshake.ZstdId;
            if (_options.SwitchLocality) messages[ImportMessage.ExtensionName] = ExtensionHandshake.ImportId;
            var ours = new ExtensionHandshake
            {
                Messages = messages,
                ListenPort = _engine.LocalEndPoint?.Port,
                Client = "BlockSwarm 0.1",
                RequestQueue = 4096,
                MaxRequestLength = MaxRequestLength > SwarmOptions.BlockSize ? MaxRequestLength : null,
            };
            peer.Connection.Send(OutgoingMessage.Extended(0, ours.Encode()));
        }
        peer.SendInitialState(() =>
        {
            // An origin revealing progressively announces only what it has revealed so far (never HAVE_ALL).
            var have = _reveal is { IsComplete: false } reveal ? reveal.Snapshot() : Swarm.HaveSnapshot();
            if (peer.SupportsFast && have.IsComplete) return OutgoingMessage.HaveAll;
            if (peer.SupportsFast && have.IsEmpty) return OutgoingMessage.HaveNone;
            return have.IsEmpty ? null : OutgoingMessage.Bitfield(have);
        });
    }

    // ---- what a peer session may ask ------------------------------------------------------------

    TimeProvider IPeerSessionHost.Time => Time;
    SwarmState IPeerSessionHost.Swarm => Swarm;
    PieceAssembler IPeerSessionHost.Assembler => Assembler;
    IFileRunSource? IPeerSessionHost.FileRuns => FileRuns;
    int IPeerSessionHost.MaxRequestLength => MaxRequestLength;
    bool IPeerSessionHost.PexEnabled => PexEnabled;
    WireCompression? IPeerSessionHost.Compression => Compression;
    int IPeerSessionHost.NewPieceAllowance => NewPieceAllowance;

    ValueTask IPeerSessionHost.WaitForUploadAsync(int bytes, CancellationToken cancellationToken)
    {
        // Unlimited limiters complete synchronously: no await, no allocation on the usual path.
        var torrent = _uploadLimiter.WaitAsync(bytes, cancellationToken);
        if (!torrent.IsCompletedSuccessfully) return WaitBothAsync(torrent, bytes, cancellationToken);
        return _engine.UploadLimiter.WaitAsync(bytes, cancellationToken);
    }

    private async ValueTask WaitBothAsync(ValueTask torrent, int bytes, CancellationToken cancellationToken)
    {
        await torrent.ConfigureAwait(false);
        await _engine.UploadLimiter.WaitAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    void IPeerSessionHost.OnDownloaded(int bytes) => Counters.OnDownloaded(bytes);

    void IPeerSessionHost.OnUploaded(int piece, int bytes, bool fromFile)
    {
        Counters.OnUploaded(bytes, fromFile);
        // The reveal window moves with what was actually read and sent, not with what was granted: a peer's deep request
        // pipeline must not run the announced pieces away from the source's cursor.
        if (_reveal is { IsComplete: false } reveal) Reveal(reveal, piece);
        _origin?.OnBlockSent(bytes);
    }

    bool IPeerSessionHost.ShouldServe(PeerHandle peer, int piece)
    {
        if (_reveal != null && !_reveal.IsRevealed(piece)) return false;
        return _origin is not { Active: true } origin || origin.ShouldServe(peer, piece);
    }

    void IPeerSessionHost.CancelUplinkRequests()
    {
        var released = Swarm.TakeUplinkCancels();
        if (released.Length == 0) return;
        List<PeerBlock> runs = [];
        PeerSession.CancelRuns(released, peer => Peers.TryGet(peer, out var p) ? p.MaxRequestToPeer : SwarmOptions.BlockSize, runs);
        foreach (var (peer, run) in runs)
            if (Peers.TryGet(peer, out var p)) p.Connection.Send(OutgoingMessage.Cancel(run.Piece, run.Begin, run.Length));
    }

    void IPeerSessionHost.AnnounceImports()
    {
        var pieces = Swarm.TakeImportsToAnnounce();
        for (int from = 0; from < pieces.Length; from += ImportMessage.MaxPieces)
        {
            var payload = ImportMessage.Encode(pieces.AsSpan(from, Math.Min(ImportMessage.MaxPieces, pieces.Length - from)));
            foreach (var p in Peers.All)
                if (p.ImportTo is var id and not 0) p.Connection.Send(OutgoingMessage.Extended(id, payload));
        }
    }

    /// <summary>A revealed piece went out: announce the pieces that keep the window full, to every peer.</summary>
    private void Reveal(PieceReveal reveal, int servedPiece)
    {
        List<int> revealed = [];
        reveal.OnServed(servedPiece, revealed);
        foreach (int piece in revealed)
            foreach (var p in Peers.All) p.AnnounceHave(piece);
    }

    void IPeerSessionHost.OnPexPeer(IPEndPoint endPoint)
    {
        // Bounded: a peer flooding PEX cannot grow the dial list without limit.
        if (Peers.IsBanned(endPoint.Address) || _known.Count >= 4 * _options.MaxConnections) return;
        AddPeer(endPoint);
    }

    void IPeerSessionHost.SendCancel(PeerHandle peer, BlockRequest block)
    {
        // A block that went out inside a longer request (bs_reqlen) matches no queued request there: the peer sends the
        // run anyway and the copy is dropped as a duplicate, which is all endgame costs.
        if (Peers.TryGet(peer, out var p)) p.Connection.Send(OutgoingMessage.Cancel(block.Piece, block.Begin, block.Length));
    }

    void IPeerSessionHost.RequestChokerRun() => _choking.Request();

    void IPeerSessionHost.OnUploadFailed(IPEndPoint remote, Exception error) => EngineLog.UploadFailed(_log, Name, remote, error.Message);
}
