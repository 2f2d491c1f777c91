namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Origin mode, in the spirit of super-seeding (BEP 16): while we are the only seed, the origin's
/// upload should go to pieces nobody has yet, never twice to the same piece. Requests are accepted
/// normally, but once a piece has gone out, a request for it from another peer is rejected (BEP 6
/// REJECT) while some piece has not gone out at all and the requested one can be had from a peer
/// (it has it, or is receiving it from us). The rejected leecher backs off that piece at the origin
/// (<see cref="SwarmState.OnRejected"/>) and fetches it from the peers instead.
/// </summary>
/// <remarks>
/// Grants are per (peer, piece): once a peer got a block of a piece from us it gets the rest, so
/// no piece is left half-delivered. Thread-safe; calls into the origin's <see cref="SwarmState"/>
/// for availability (lock order: this, then the swarm state).
/// </remarks>
public sealed class OriginServePolicy
{
    private readonly SwarmState _swarm;
    private readonly Lock _gate = new();
    private readonly int[] _copies;       // peers each piece was granted to, ever
    private readonly int[] _liveGrants;   // grants to peers still connected
    private readonly Dictionary<PeerHandle, HashSet<int>> _grants = [];
    private readonly Dictionary<PeerHandle, Progress> _progress = [];
    private readonly TimeProvider _time;
    private int _unsentPieces;
    private long _bytesSent;
    private long _lastScan = long.MinValue;
    private bool _usefulUnsent = true;

    /// <param name="swarm">The origin's swarm state: availability counts of its peers.</param>
    /// <param name="time">Clock for the starvation guard and the rescan interval.</param>
    public OriginServePolicy(SwarmState swarm, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(swarm);
        _swarm = swarm;
        _time = time ?? TimeProvider.System;
        _copies = new int[swarm.PieceCount];
        _liveGrants = new int[swarm.PieceCount];
        _unsentPieces = swarm.PieceCount;
    }

    /// <summary>Set by the engine: true while we are the only seed. When false every request is served.</summary>
    public bool Active { get; set; } = true;

    /// <summary>Pieces never sent to anyone. The policy stops rejecting once this reaches zero.</summary>
    public int UnsentPieces { get { lock (_gate) return _unsentPieces; } }

    /// <summary>Payload bytes served, as whole-piece equivalents (the figure the policy keeps low).</summary>
    public double PieceCopiesSent { get { lock (_gate) return (double)_bytesSent / _swarm.PieceLength; } }

    public int Copies(int piece) { lock (_gate) return _copies[piece]; }

    /// <summary>
    /// A peer that made no progress for this long — no grant from us and no new piece announced
    /// to us (HAVE) — is served anyway: spreading must never stall a peer that cannot reach the
    /// others (firewalled, not yet discovered, or a partitioned swarm). A peer that keeps
    /// completing pieces from other peers is not starving, however often we refuse it: that is
    /// what keeps the origin from sending duplicates in large swarms, where each peer's share of
    /// the origin's upload is small.
    /// </summary>
    public TimeSpan StarvationTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Whether to serve <paramref name="peer"/>'s request for a block of <paramref name="piece"/>;
    /// false means send REJECT-REQUEST (or drop it if the peer lacks the Fast extension).
    /// </summary>
    public bool ShouldServe(PeerHandle peer, int piece)
    {
        lock (_gate)
        {
            if (_grants.TryGetValue(peer, out var mine) && mine.Contains(piece)) return true;
            long now = _time.GetTimestamp();
            if (Active && _unsentPieces > 0 && _copies[piece] > 0
                && (_liveGrants[piece] > 0 || _swarm.Availability(piece) > 0)
                && UsefulUnsentExists(now) && !Starving(peer, now))
                return false;
            Grant(peer, piece);
            _progress[peer] = new Progress(_swarm.PeerHaveCount(peer), now);
            return true;
        }
    }

    private bool Starving(PeerHandle peer, long now)
    {
        int pieces = _swarm.PeerHaveCount(peer);
        if (!_progress.TryGetValue(peer, out var last) || pieces > last.Pieces)
        {
            _progress[peer] = new Progress(pieces, now); // first refusal, or it got pieces elsewhere: the clock starts now
            return false;
        }
        return _time.GetElapsedTime(last.Since, now) >= StarvationTimeout;
    }

    /// <summary>A peer's piece count as we last saw it, and since when it has not grown (or we last granted it something).</summary>
    private readonly record struct Progress(int Pieces, long Since);

    /// <summary>
    /// Whether some never-sent piece is still missing at a connected peer. Pieces every peer
    /// already has (found on the target at start, e.g. all-zero pieces) are not worth spreading.
    /// Rescanned at most every 250 ms.
    /// </summary>
    private bool UsefulUnsentExists(long now)
    {
        if (_lastScan != long.MinValue && _time.GetElapsedTime(_lastScan, now) < TimeSpan.FromMilliseconds(250)) return _usefulUnsent;
        _lastScan = now;
        int peers = _swarm.PeerCount;
        _usefulUnsent = false;
        for (int p = 0; p < _copies.Length && peers > 0; p++)
        {
            if (_copies[p] == 0 && _swarm.Availability(p) < peers)
            {
                _usefulUnsent = true;
                break;
            }
        }
        return _usefulUnsent;
    }

    /// <summary>Count what actually went out (after the rate limiter).</summary>
    public void OnBlockSent(int length)
    {
        lock (_gate) _bytesSent += length;
    }

    /// <summary>The peer left: pieces it was receiving are no longer on their way to the swarm.</summary>
    public void RemovePeer(PeerHandle peer)
    {
        lock (_gate)
        {
            _progress.Remove(peer);
            if (!_grants.Remove(peer, out var pieces)) return;
            foreach (int p in pieces) _liveGrants[p]--;
        }
    }

    private void Grant(PeerHandle peer, int piece)
    {
        if (!_grants.TryGetValue(peer, out var set)) _grants[peer] = set = [];
        set.Add(piece);
        _liveGrants[piece]++;
        if (_copies[piece]++ == 0) _unsentPieces--;
    }
}
