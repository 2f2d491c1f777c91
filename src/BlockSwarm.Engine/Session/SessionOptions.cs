using System.Net;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Session;

/// <summary>How a <see cref="TorrentSession"/> connects, shares and checkpoints.</summary>
public sealed record SessionOptions
{
    /// <summary>Where to accept peers; null = no listener (dial only).</summary>
    public IPEndPoint? Listen { get; init; }

    /// <summary>Local address outgoing connections bind to (give every peer on one host its own 127.0.0.x).</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>20-byte peer id; null = a fresh "-BS0100-" id.</summary>
    public byte[]? PeerId { get; init; }

    /// <summary>Most simultaneous connections (modest, but above ln N so the swarm stays connected).</summary>
    public int MaxConnections { get; init; } = 48;

    /// <summary>Exchange peer lists with other peers (BEP 11 ut_pex over BEP 10), so peers find each other without a tracker. On by default.</summary>
    public bool Pex { get; init; } = true;

    /// <summary>Upload limit in bytes/s for the whole session; 0 = unlimited.</summary>
    public long UploadLimit { get; init; }

    /// <summary>Ramp the upload limit up from a quarter over this time (origin slow start); null = no slow start.</summary>
    public TimeSpan? SlowStart { get; init; }

    /// <summary>As the only seed, prefer spreading distinct pieces (reject a second copy while a piece was never sent).</summary>
    public bool OriginSpreading { get; init; } = true;

    /// <summary>Bytes of received-but-not-yet-written pieces before requests for new pieces pause.</summary>
    public long MaxBufferedBytes { get; init; } = 128L << 20;

    /// <summary>Resume file written at checkpoints (after fsync); null = none.</summary>
    public string? ResumePath { get; init; }

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Longest REQUEST served and sent, announced in the BEP 10 handshake (<c>bs_reqlen</c>). Between two BlockSwarm
    /// peers runs of consecutive 16 KiB blocks then travel as one message of up to this many bytes: the per-message
    /// work (parsing, picking, cache lookups, the upload queue) drops sixteenfold at 256 KiB. Other clients never
    /// announce it and keep getting standard 16 KiB requests. 16 KiB turns it off; at most 1 MiB (the receive buffer pauses at 4 MiB and must hold a whole frame), a multiple of 16 KiB.
    /// </summary>
    public int MaxRequestLength { get; init; } = 256 * 1024;

    /// <summary>Threads hashing received pieces.</summary>
    public int HashWorkers { get; init; } = Math.Max(1, Environment.ProcessorCount);

    public SwarmOptions Swarm { get; init; } = new();
    public ChokerOptions Choker { get; init; } = new();
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Seed of the picker, choker and peer id randomness; fixed in tests, random (not the clock: two sessions started together must differ) otherwise.</summary>
    public int Seed { get; init; } = System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);

    /// <summary>
    /// Socket buffer sizes; 0 (default) leaves them to the kernel's autotuning, which grows them to the path's
    /// bandwidth-delay product (tcp_rmem/tcp_wmem, 6 MiB and more: enough for 10 GbE on a LAN). Fixed 4 MiB buffers
    /// let every one of a host's dozens of swarm connections burst that much into a shallow switch buffer.
    /// </summary>
    public int SocketBufferBytes { get; init; }

    /// <summary>
    /// TCP congestion control for peer connections (TCP_CONGESTION); "system" keeps the kernel's default. Default
    /// "cubic", or the BLOCKSWARM_TCP_CONGESTION environment variable. A swarm runs many parallel flows per host
    /// into shallow LAN buffers, where loss-agnostic BBR (v1) keeps sending into full queues: in the swarm lab
    /// (16 clients, 50 Mbit/s links) BBR hosts retransmitted ~20 % of their segments and the deployment took 1.39 ×
    /// the floor, against 1.30 × with cubic and autotuned buffers. Ignored where the algorithm is not available.
    /// </summary>
    public string? TcpCongestion { get; init; } = Environment.GetEnvironmentVariable("BLOCKSWARM_TCP_CONGESTION") ?? "cubic";
}
