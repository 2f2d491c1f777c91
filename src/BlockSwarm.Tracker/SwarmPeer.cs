using System.Buffers.Binary;
using System.Net;

namespace BlockSwarm.Tracker;

/// <summary>One peer as the tracker stores it. Mutated only under its swarm's lock.</summary>
public sealed class SwarmPeer
{
    internal SwarmPeer(byte[] peerId, IPEndPoint endPoint)
    {
        PeerId = peerId;
        SetEndPoint(endPoint);
    }

    public ReadOnlyMemory<byte> PeerId { get; }

    public IPEndPoint EndPoint { get; private set; } = null!;

    public bool IsSeeder { get; internal set; }

    /// <summary>TimeProvider timestamp of the last announce.</summary>
    public long LastSeen { get; internal set; }

    /// <summary>BEP 23/7 compact form (4 or 16 address bytes + big-endian port), built once per endpoint change.</summary>
    internal byte[] Compact { get; private set; } = [];

    /// <summary>Position in the swarm's seeder or leecher list, for O(1) swap-removal.</summary>
    internal int Index { get; set; }

    /// <summary>A completion is counted once per peer, however often it repeats <c>event=completed</c>.</summary>
    internal bool CountedCompletion { get; set; }

    internal bool IsIPv6 => Compact.Length == 18;

    internal void SetEndPoint(IPEndPoint ep)
    {
        EndPoint = ep;
        var addr = ep.Address.GetAddressBytes();
        var c = new byte[addr.Length + 2];
        addr.CopyTo(c, 0);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(addr.Length), (ushort)ep.Port);
        Compact = c;
    }
}
