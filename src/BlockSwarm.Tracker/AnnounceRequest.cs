using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker;

/// <summary>A parsed BEP 3 announce. Byte fields are the raw, percent-decoded bytes.</summary>
public sealed record AnnounceRequest
{
    public required InfoHash InfoHash { get; init; }

    /// <summary>Exactly 20 bytes.</summary>
    public required ReadOnlyMemory<byte> PeerId { get; init; }

    public required int Port { get; init; }

    public long Uploaded { get; init; }

    public long Downloaded { get; init; }

    /// <summary>Bytes still missing; -1 when the client did not say (treated as a leecher).</summary>
    public long Left { get; init; } = -1;

    public AnnounceEvent Event { get; init; }

    /// <summary>Peers wanted; null when the client did not say (the tracker's default applies).</summary>
    public int? NumWant { get; init; }

    public bool Compact { get; init; }

    public bool NoPeerId { get; init; }

    /// <summary>The address the client claims in <c>ip=</c>; honoured only from trusted sources.</summary>
    public IPAddress? ClaimedIp { get; init; }

    /// <summary><c>bs_time</c> of a swarm-secret proof (<see cref="AnnounceProof"/>): Unix seconds; null when absent.</summary>
    public long? ProofTime { get; init; }

    /// <summary><c>bs_nonce</c>, decoded from hex (empty when not hex); null when absent.</summary>
    public ReadOnlyMemory<byte>? ProofNonce { get; init; }

    /// <summary><c>bs_proof</c>, decoded from hex (empty when not hex); null when absent.</summary>
    public ReadOnlyMemory<byte>? Proof { get; init; }

    public bool IsSeeder => Left == 0;
}
