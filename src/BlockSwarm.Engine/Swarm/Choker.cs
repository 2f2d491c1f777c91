namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Decides which peers we unchoke. Pure policy with its own small memory (who is unchoked since when, who was served
/// last, the optimistic peer); the engine sends CHOKE/UNCHOKE for the difference.
/// </summary>
/// <remarks>
/// A deployment swarm is cooperative: every peer wants every piece, and the deployment ends when the last peer has
/// them. So while at most <see cref="ChokerOptions.UnchokeAllUpTo"/> peers want data every one is unchoked; past that
/// <see cref="ChokerOptions.UnchokeSlots"/> are, seeding or not: the peers furthest behind (fewest pieces; equal ones to
/// the least recently served), with one slot rotating at random among the rest every
/// <see cref="ChokerOptions.OptimisticInterval"/>. Upload rate plays no part: BitTorrent's tit-for-tat choked exactly
/// the peers that had least to give back, and they finished last (swarm simulator, 100 clients on one switch: the last
/// client at 1.79 × F/c with tit-for-tat and 32 slots, 1.28–1.32 with this; docs/benchmarks.md, issue 19).
/// Call <see cref="Decide"/> about every 10 s and when a peer's interest changes or it leaves.
/// Not thread-safe: one choker loop owns it.
/// </remarks>
public sealed class Choker
{
    private readonly ChokerOptions _options;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Dictionary<PeerHandle, long> _unchokedSince = [];
    private readonly Dictionary<PeerHandle, long> _lastServed = []; // when the peer was last choked after being served
    private readonly List<ChokerPeer> _interested = [];
    private readonly List<PeerHandle> _chosen = [];
    private readonly HashSet<PeerHandle> _present = [];
    private readonly List<PeerHandle> _stale = [];
    private PeerHandle? _optimistic;
    private long _optimisticSince;

    public Choker(ChokerOptions? options = null, TimeProvider? time = null, Random? random = null)
    {
        _options = options ?? new ChokerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.UnchokeSlots, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(_options.UnchokeAllUpTo);
        _time = time ?? TimeProvider.System;
        _random = random ?? new Random();
    }

    /// <summary>The peer holding the optimistic slot, if any.</summary>
    public PeerHandle? OptimisticPeer => _optimistic;

    public bool IsUnchoked(PeerHandle peer) => _unchokedSince.ContainsKey(peer);

    /// <summary>Fills <paramref name="unchoke"/> with the peers that should be unchoked now; every other peer should be choked.</summary>
    public void Decide(IReadOnlyList<ChokerPeer> peers, List<PeerHandle> unchoke)
    {
        ArgumentNullException.ThrowIfNull(peers);
        ArgumentNullException.ThrowIfNull(unchoke);
        long now = _time.GetTimestamp();
        _interested.Clear();
        _chosen.Clear();
        _present.Clear();
        foreach (var p in peers)
        {
            _present.Add(p.Peer);
            if (p.Interested) _interested.Add(p);
        }
        Forget(_unchokedSince);
        Forget(_lastServed);
        if (_optimistic is { } o && !_present.Contains(o)) _optimistic = null;

        int slots = _options.UnchokeSlots;
        if (_interested.Count <= Math.Max(slots, _options.UnchokeAllUpTo))
        {
            foreach (var p in _interested) _chosen.Add(p.Peer);
            _optimistic = null;
        }
        else
        {
            ChooseFurthestBehind(now, slots);
        }

        // Bookkeeping: who was served until now, who starts now.
        foreach (var (peer, _) in _unchokedSince)
            if (!_chosen.Contains(peer)) _stale.Add(peer);
        foreach (var peer in _stale)
        {
            _unchokedSince.Remove(peer);
            _lastServed[peer] = now;
        }
        _stale.Clear();
        foreach (var peer in _chosen)
        {
            _unchokedSince.TryAdd(peer, now);
            unchoke.Add(peer);
        }
    }

    private void ChooseFurthestBehind(long now, int slots)
    {
        // Fewest pieces first; equal ones (everyone at the start) to the least recently served.
        _interested.Sort((a, b) =>
        {
            int c = a.Pieces.CompareTo(b.Pieces);
            if (c != 0) return c;
            c = LastServed(a.Peer).CompareTo(LastServed(b.Peer));
            return c != 0 ? c : a.Peer.Value.CompareTo(b.Peer.Value);
        });
        int regular = slots - 1;
        for (int i = 0; i < regular; i++) _chosen.Add(_interested[i].Peer);

        long interval = (long)(_options.OptimisticInterval.TotalSeconds * _time.TimestampFrequency);
        bool keep = _optimistic is { } current && now - _optimisticSince < interval
            && !_chosen.Contains(current) && _interested.Exists(p => p.Peer == current);
        if (!keep)
        {
            // Random among those left out, so no peer waits only for the others to catch up.
            int candidates = _interested.Count - regular;
            _optimistic = _interested[regular + _random.Next(candidates)].Peer;
            _optimisticSince = now;
        }
        _chosen.Add(_optimistic!.Value);
    }

    private long LastServed(PeerHandle peer) =>
        _unchokedSince.ContainsKey(peer) ? long.MaxValue : _lastServed.TryGetValue(peer, out long t) ? t : long.MinValue;

    private void Forget(Dictionary<PeerHandle, long> map)
    {
        foreach (var (peer, _) in map)
            if (!_present.Contains(peer)) _stale.Add(peer);
        foreach (var peer in _stale) map.Remove(peer);
        _stale.Clear();
    }
}
