using System.Net;

namespace BlockSwarm.Engine.Extensions;

/// <summary>A peer as PEX carries it: endpoint and flags.</summary>
public readonly record struct PexPeer(IPEndPoint EndPoint, PexFlags Flags = PexFlags.None);
