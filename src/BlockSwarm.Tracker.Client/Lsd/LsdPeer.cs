using System.Net;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker.Client.Lsd;

/// <summary>A peer heard on the local network for one of our torrents.</summary>
public readonly record struct LsdPeer(InfoHash InfoHash, IPEndPoint EndPoint);
