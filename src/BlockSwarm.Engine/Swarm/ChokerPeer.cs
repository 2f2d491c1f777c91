namespace BlockSwarm.Engine.Swarm;

/// <summary>What the choker needs to know about a peer at decision time.</summary>
/// <param name="Interested">The peer is interested in us (wants data).</param>
/// <param name="DownloadRate">Bytes per second we receive from it (tit-for-tat when we are a leecher).</param>
public readonly record struct ChokerPeer(PeerHandle Peer, bool Interested, double DownloadRate);
