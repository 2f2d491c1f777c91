namespace BlockSwarm.Engine.Swarm;

/// <summary>What the choker needs to know about a peer at decision time.</summary>
/// <param name="Interested">The peer is interested in us (wants data).</param>
/// <param name="Pieces">Pieces the peer has, as its bitfield and HAVEs told us: how far along it is.</param>
public readonly record struct ChokerPeer(PeerHandle Peer, bool Interested, int Pieces);
