using System.Net;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker.Client;

/// <summary>What a client says in one announce.</summary>
public sealed record AnnounceParameters
{
    public required InfoHash InfoHash { get; init; }

    /// <summary>20 bytes.</summary>
    public required ReadOnlyMemory<byte> PeerId { get; init; }

    public required int Port { get; init; }

    public long Uploaded { get; init; }

    public long Downloaded { get; init; }

    public long Left { get; init; }

    public AnnounceEvent Event { get; init; }

    public int NumWant { get; init; } = 50;

    /// <summary>Random per session (BEP 7's <c>key</c>): lets a tracker recognise us across address changes.</summary>
    public uint Key { get; init; }

    /// <summary>Sent as <c>ip=</c> when set (only trusted by trackers from trusted sources).</summary>
    public IPAddress? Ip { get; init; }

    public ReadOnlyMemory<byte>? TrackerId { get; init; }
}
