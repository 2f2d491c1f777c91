using System.Collections.Concurrent;
using System.Net;

namespace BlockSwarm.Engine.Session;

/// <summary>The addresses a torrent knows to dial (given, from trackers, LSD or PEX), each with its backoff.</summary>
internal sealed class KnownPeers
{
    private readonly ConcurrentDictionary<IPEndPoint, DialState> _known = new();

    public int Count => _known.Count;

    /// <summary>Adds an address; null when it was known already.</summary>
    public DialState? TryAdd(IPEndPoint endPoint)
    {
        var state = new DialState();
        return _known.TryAdd(endPoint, state) ? state : null;
    }

    /// <summary>The address's dial state, if it is known.</summary>
    public DialState? Get(IPEndPoint endPoint) => _known.TryGetValue(endPoint, out var state) ? state : null;

    /// <summary>Dials started and not yet connected or failed.</summary>
    public int InFlight
    {
        get
        {
            int n = 0;
            foreach (var (_, state) in _known)
                if (state.InFlight) n++;
            return n;
        }
    }

    /// <summary>Addresses not connected whose backoff has passed.</summary>
    public IEnumerable<(IPEndPoint EndPoint, DialState State)> Due(TimeProvider time)
    {
        foreach (var (ep, state) in _known)
            if (!state.Connected && state.Due(time)) yield return (ep, state);
    }
}
