using System.Net;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// Everything a <see cref="PeerSession"/> may ask of its torrent: the shared swarm state and piece assembler, the
/// storage to upload from, the rate limits, and the few events it reports. The whole surface between one connection
/// and the rest of the engine; a test can stand in for the torrent by implementing it.
/// </summary>
internal interface IPeerSessionHost
{
    Torrent Torrent { get; }
    TimeProvider Time { get; }

    /// <summary>Pieces we have, pieces peers have, requests in flight: the one object the picker works on.</summary>
    SwarmState Swarm { get; }

    /// <summary>Where received blocks go: piece buffers, then hashing, then storage.</summary>
    PieceAssembler Assembler { get; }

    /// <summary>Where uploads are read from.</summary>
    IPieceStorage Storage { get; }

    /// <summary>The storage's sendfile capability, when it has one.</summary>
    IFileRunSource? FileRuns { get; }

    /// <summary>Longest REQUEST we serve and PIECE we accept (<see cref="TorrentOptions.MaxRequestLength"/>).</summary>
    int MaxRequestLength { get; }

    bool PexEnabled { get; }

    /// <summary>The torrent's <c>bs_zstd</c> side (compress runs for peers that speak it, keep received ones); null = off.</summary>
    Compression.WireCompression? Compression { get; }

    /// <summary>New pieces the memory budget has room for now; 0: keep requesting blocks of started pieces only.</summary>
    int NewPieceAllowance { get; }

    /// <summary>Completes when <paramref name="bytes"/> may be uploaded under the torrent's and the engine's limits.</summary>
    ValueTask WaitForUploadAsync(int bytes, CancellationToken cancellationToken);

    void OnDownloaded(int bytes);
    /// <summary>Bytes of <paramref name="piece"/> went out to a peer (straight from the file when <paramref name="fromFile"/>: sendfile, or read into a secure channel's record).</summary>
    void OnUploaded(int piece, int bytes, bool fromFile);

    /// <summary>The origin's serving policy (spread distinct pieces first) allows sending <paramref name="piece"/> to this peer.</summary>
    bool ShouldServe(PeerHandle peer, int piece);

    /// <summary>A peer address learned through PEX.</summary>
    void OnPexPeer(IPEndPoint endPoint);

    /// <summary>Another peer was also asked for <paramref name="block"/> (endgame): cancel it there.</summary>
    void SendCancel(PeerHandle peer, BlockRequest block);

    /// <summary>Pieces were just requested from behind another switch: tell the peers of our own switch we import them (<c>bs_import</c>).</summary>
    void AnnounceImports();

    /// <summary>A local peer announced a piece: CANCEL, run by run, the requests for it the swarm released from remote peers.</summary>
    void CancelUplinkRequests();

    /// <summary>Interest changed or a peer came or went: the choker should run soon.</summary>
    void RequestChokerRun();

    /// <summary>Uploading to a peer failed for a reason other than storage (which <see cref="Fail"/> reports): it is closed.</summary>
    void OnUploadFailed(IPEndPoint remote, Exception error);

    /// <summary>A storage error (or an engine fault) that stops the whole torrent.</summary>
    void Fail(Exception error);
}
