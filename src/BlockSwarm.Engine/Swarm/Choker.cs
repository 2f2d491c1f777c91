namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Decides which peers we unchoke. Pure policy with its own small memory (who is unchoked since
/// when, who was served last); the engine sends CHOKE/UNCHOKE for the difference.
/// </summary>
/// <remarks>
/// On a trusted LAN every interested peer is unchoked while there are slots. Past that:
/// leeching, the best uploaders to us keep the regular slots (tit-for-tat-lite) and one slot
/// rotates optimistically every <see cref="ChokerOptions.OptimisticInterval"/>; seeding, slots
/// rotate round-robin to the least recently served peers, since upload rate says nothing then.
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
        _time = time ?? TimeProvider.System;
        _random = random ?? new Random();
    }

    /// <summary>The peer holding the optimistic slot, if any.</summary>
    public PeerHandle? OptimisticPeer => _optimistic;

    public bool IsUnchoked(PeerHandle peer) => _unchokedSince.ContainsKey(peer);

    /// <summary>
    /// Fills <paramref name="unchoke"/> with the peers that should be unchoked now; every other
    /// peer should be choked. <paramref name="seeding"/>: we have every piece.
    /// </summary>
    public void Decide(IReadOnlyList<ChokerPeer> peers, bool seeding, List<PeerHandle> unchoke)
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
        if (_interested.Count <= slots)
        {
            foreach (var p in _interested) _chosen.Add(p.Peer);
            _optimistic = null;
        }
        else if (seeding)
        {
            ChooseRoundRobin(now, slots);
        }
        else
        {
            ChooseTitForTat(now, slots);
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

    private void ChooseRoundRobin(long now, int slots)
    {
        long rotation = (long)(_options.SeedRotationInterval.TotalSeconds * _time.TimestampFrequency);
        // Peers still within their turn keep it (oldest first); then the ones waiting longest.
        _interested.Sort((a, b) => RoundRobinKey(a.Peer, now, rotation).CompareTo(RoundRobinKey(b.Peer, now, rotation)) is int c && c != 0
            ? c
            : a.Peer.Value.CompareTo(b.Peer.Value));
        for (int i = 0; i < slots; i++) _chosen.Add(_interested[i].Peer);
        _optimistic = null;
    }

    /// <summary>Smaller is served first: in-turn peers by start of turn, then waiting peers by last service (never = first), then peers whose turn is over.</summary>
    private (int Group, long Time) RoundRobinKey(PeerHandle peer, long now, long rotation)
    {
        if (_unchokedSince.TryGetValue(peer, out long since))
            return now - since < rotation ? (0, since) : (2, since);
        return (1, _lastServed.TryGetValue(peer, out long served) ? served : long.MinValue);
    }

    private void ChooseTitForTat(long now, int slots)
    {
        // Best uploaders to us first; equal rates (common on a LAN start) go to the least recently served.
        _interested.Sort((a, b) =>
        {
            int c = b.DownloadRate.CompareTo(a.DownloadRate);
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
            // Random among those left out, so every peer gets a chance to show what it can upload.
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
