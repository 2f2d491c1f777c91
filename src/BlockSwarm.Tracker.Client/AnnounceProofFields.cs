using System.Net;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// What an announce's proof covers (<see cref="AnnounceProof"/>): every parameter that changes what the tracker does for
/// the announcer, as the tracker parses them, plus the proof's time and nonce. Client and tracker fill it from their own
/// view of the announce (<see cref="AnnounceProof.FieldsOf"/>, the tracker's parsed request), so both hash the same values
/// whatever escaping or parameter order the URL took on its way.
/// </summary>
public readonly record struct AnnounceProofFields
{
    public required InfoHash InfoHash { get; init; }

    /// <summary>20 bytes.</summary>
    public required ReadOnlyMemory<byte> PeerId { get; init; }

    public required int Port { get; init; }

    public AnnounceEvent Event { get; init; }

    /// <summary>-1 when not sent.</summary>
    public long Left { get; init; }

    public long Uploaded { get; init; }

    public long Downloaded { get; init; }

    /// <summary>-1 when not sent (or negative: "the tracker's default").</summary>
    public int NumWant { get; init; }

    public bool Compact { get; init; }

    public bool NoPeerId { get; init; }

    /// <summary>The parsed <c>ip=</c> (IPv4-mapped addresses as IPv4); null when absent or not an address.</summary>
    public IPAddress? Ip { get; init; }

    /// <summary><c>bs_time</c>: Unix seconds when the client made the proof.</summary>
    public long Time { get; init; }

    /// <summary><c>bs_nonce</c>: <see cref="AnnounceProof.NonceLength"/> random bytes, so no two announces share a proof.</summary>
    public ReadOnlyMemory<byte> Nonce { get; init; }
}
