using System.Net;
using BlockSwarm.Engine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Engine.Hosting;

/// <summary>What a <see cref="TorrentEngine"/> shares between all its torrents: ports, connections, memory, rate, peer id.</summary>
public sealed record EngineOptions
{
    /// <summary>Default piece memory (<see cref="Memory"/> unset): what one fetch holds with the default <c>--cache</c>.</summary>
    public const long DefaultMemoryBytes = 256L << 20;

    /// <summary>Where to accept peers, one listener each (port 0 = any free port). Empty: dial only.</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [];

    /// <summary>Local address outgoing connections bind to, peers' and trackers' (every peer on one host on its own 127.0.0.x); null = any.</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>20-byte peer id of every connection; null = a fresh "-BS0100-" id.</summary>
    public byte[]? PeerId { get; init; }

    /// <summary>Most connections of the whole process, handshaking ones included (each torrent also has its own limit).</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>Upload limit of the whole process in bytes/s, shared by every torrent; 0 = unlimited.</summary>
    public long UploadLimit { get; init; }

    /// <summary>Ramp <see cref="UploadLimit"/> up from a quarter over this time (origin slow start); null = none.</summary>
    public TimeSpan? SlowStart { get; init; }

    /// <summary>
    /// The process's upload limiter, for a schedule <see cref="UploadLimit"/> and <see cref="SlowStart"/> cannot express
    /// (the EZIO daemon's stepped slow start, <see cref="Swarm.RateLimiter.Stepped"/>); when set, those two are ignored.
    /// </summary>
    public Swarm.RateLimiter? UploadLimiter { get; init; }

    /// <summary>
    /// The piece memory every torrent shares (assembling, write-back, read cache). Storages opened for this engine should
    /// get the same object (<see cref="StorageOptions.Memory"/>) so the write-back and read caches count against it too.
    /// Null: <see cref="PieceMemory.Split"/> of <see cref="DefaultMemoryBytes"/>.
    /// </summary>
    public PieceMemory? Memory { get; init; }

    public DiscoveryOptions Discovery { get; init; } = new();

    /// <summary>
    /// The swarm secret (<c>--secret-file</c>): every peer connection is then mutually authenticated and encrypted
    /// (<see cref="BlockSwarm.Security.SecureChannel"/>), announces carry a proof of it, and Local Service Discovery (which
    /// would shout info-hashes on the LAN) is refused. Peers without it, standard BitTorrent clients included, cannot
    /// connect. Null: plain BitTorrent, interoperable with every client.
    /// </summary>
    public BlockSwarm.Security.SwarmSecret? SwarmSecret { get; init; }

    /// <summary>Default <see cref="CompressionLevel"/>: zstd's own default level.</summary>
    public const int DefaultCompressionLevel = 3;

    /// <summary>
    /// zstd level of runs sent to BlockSwarm peers as <c>bs_zstd</c> messages (<see cref="Compression.WireCompression"/>);
    /// 0 turns it off (not announced, nothing compressed). Other clients never announce <c>bs_zstd</c> and always get plain
    /// PIECE messages. Level 3 compresses OS data about 3× in 256 KiB runs at ~130 MB/s per core of a slow 2-core VM
    /// (and decodes at ~600 MB/s): right for 100 Mbit/s–1 GbE; on a many-core origin at 10 GbE, 1.
    /// </summary>
    public int CompressionLevel { get; init; } = DefaultCompressionLevel;

    /// <summary>
    /// Compress a run that is not cached only when the connection's path is the bottleneck (bytes wait to be sent, or an
    /// upload limit applies); while the socket takes data as fast as this process makes it, compressing would only slow it
    /// down (a 2-core origin at level 3 compresses ~130 MB/s: less than 10 GbE, or loopback). False: always compress
    /// (deterministic tests). Cached runs are sent compressed either way: they cost nothing.
    /// </summary>
    public bool AdaptiveCompression { get; init; } = true;

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

    /// <summary>
    /// How far each peer connection's receive and send buffers may run ahead of the engine (null: the 4 MiB of
    /// <see cref="Wire.PeerTransportOptions.Default"/>). A process with a small memory budget lowers them: a connection
    /// whose pieces wait for room buffers that much outside the budget.
    /// </summary>
    public Wire.PeerTransportOptions? Transport { get; init; }

    /// <summary>Gives up a dial after this long (a host that is off drops SYNs: the kernel would wait over a minute).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Seed of every torrent's picker and choker randomness; fixed in tests, random (not the clock: two engines started together must differ) otherwise.</summary>
    public int Seed { get; init; } = System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);

    /// <summary>Where the engine logs (connections, bans, hash failures, storage errors, tracker failures, policy).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}
