namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// True super-seeding (BEP 16), a separate mode for the origin: instead of a full BITFIELD each peer
/// is told (HAVE) about one piece at a time, the rarest not yet offered elsewhere, and is offered
/// the next one only once its current piece has been seen at another peer, i.e. it passed the piece
/// on. Send HAVE-NONE or an empty BITFIELD first. Thread-safe; lock order: this, then the swarm state.
/// </summary>
public sealed class SuperSeeder
{
    private readonly SwarmState _swarm;
    private readonly Random _random;
    private readonly Lock _gate = new();
    private readonly int[] _offered; // live offers per piece
    private readonly Dictionary<PeerHandle, int> _offerOf = [];

    /// <param name="swarm">The origin's swarm state (peer bitfields and availability).</param>
    public SuperSeeder(SwarmState swarm, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(swarm);
        _swarm = swarm;
        _random = random ?? new Random();
        _offered = new int[swarm.PieceCount];
    }

    /// <summary>The piece currently offered to the peer, or -1.</summary>
    public int OfferOf(PeerHandle peer) { lock (_gate) return _offerOf.TryGetValue(peer, out int p) ? p : -1; }

    /// <summary>
    /// The piece to announce to <paramref name="peer"/> with HAVE now, or -1 to wait. Call after
    /// connect and after every HAVE the origin receives from anyone.
    /// </summary>
    public int NextOffer(PeerHandle peer)
    {
        lock (_gate)
        {
            if (_offerOf.TryGetValue(peer, out int current))
            {
                // Passed on: some other peer has it now (the offered peer counts once if it has it too).
                int others = _swarm.Availability(current) - (_swarm.PeerHas(peer, current) ? 1 : 0);
                if (others < 1) return -1;
                _offered[current]--;
                _offerOf.Remove(peer);
            }
            int best = -1, bestScore = int.MaxValue, ties = 0;
            for (int p = 0; p < _offered.Length; p++)
            {
                if (_swarm.PeerHas(peer, p)) continue;
                int score = _swarm.Availability(p) + _offered[p];
                if (score > bestScore) continue;
                if (score < bestScore) { best = p; bestScore = score; ties = 1; }
                else if (_random.Next(++ties) == 0) best = p; // uniform among equals
            }
            if (best < 0) return -1;
            _offered[best]++;
            _offerOf[peer] = best;
            return best;
        }
    }

    public void RemovePeer(PeerHandle peer)
    {
        lock (_gate)
            if (_offerOf.Remove(peer, out int p)) _offered[p]--;
    }
}
