namespace BlockSwarm.Engine.Swarm;

/// <summary>A block and the peer it concerns: a request that timed out, or a CANCEL to send.</summary>
public readonly record struct PeerBlock(PeerHandle Peer, BlockRequest Block);
