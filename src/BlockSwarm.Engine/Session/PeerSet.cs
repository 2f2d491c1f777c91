using System.Collections.Concurrent;
using System.Net;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// One torrent's connected peers and banned addresses. Registration is where duplicates are decided: two peers that
/// learn of each other at the same moment (one PEX message reaches both) dial each other at once, and each side keeping
/// its first connection would close a different one on each side, so both would die. Both sides instead keep the
/// connection opened by the peer with the lower peer id; the check and the registration are one atomic step.
/// </summary>
internal sealed class PeerSet
{
    private readonly ConcurrentDictionary<PeerHandle, PeerSession> _peers = new();
    private readonly ConcurrentDictionary<IPAddress, byte> _banned = new();
    private readonly Lock _gate = new();
    private int _nextHandle;

    public int Count => _peers.Count;

    /// <summary>The connected peers (a live view: safe to enumerate while peers come and go).</summary>
    public IEnumerable<PeerSession> All => _peers.Values;

    public PeerHandle NextHandle() => new(Interlocked.Increment(ref _nextHandle));

    public bool TryGet(PeerHandle handle, out PeerSession peer) => _peers.TryGetValue(handle, out peer!);

    public bool IsBanned(IPAddress address) => _banned.ContainsKey(address);

    /// <summary>Bans an address (true if it was not banned yet).</summary>
    public bool Ban(IPAddress address) => _banned.TryAdd(address, 0);

    /// <summary>
    /// Registers <paramref name="peer"/> with the swarm unless a connection to the same peer id is the one both sides
    /// keep; a superseded existing connection is closed. False: the new connection is the duplicate, drop it.
    /// </summary>
    public bool TryRegister(PeerSession peer, ReadOnlySpan<byte> ourPeerId, ReadOnlySpan<byte> theirPeerId, SwarmState swarm)
    {
        bool weAreLow = ourPeerId.SequenceCompareTo(theirPeerId) < 0;
        lock (_gate)
        {
            foreach (var existing in _peers.Values)
            {
                if (existing.Connection.RemoteHandshake?.PeerIdBytes.SequenceEqual(theirPeerId) != true) continue;
                bool keepNew = existing.Outgoing != peer.Outgoing && peer.Outgoing == weAreLow;
                if (!keepNew) return false;
                existing.Connection.Close();
            }
            swarm.AddPeer(peer.Id, peer.BehindOtherSwitch, Wire.PeerId.IsBlockSwarm(theirPeerId) ? SwarmState.RendezvousKeyOf(theirPeerId) : 0);
            _peers[peer.Id] = peer;
            return true;
        }
    }

    public void Remove(PeerHandle handle) => _peers.TryRemove(handle, out _);
}
