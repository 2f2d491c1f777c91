using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

/// <summary>
/// Round-based, single-threaded swarm of one origin (node 0) and N leechers, each with its own
/// <see cref="SwarmState"/>, on one fake clock (one round = one second). Each round every leecher
/// picks requests from each neighbour, every node serves up to its upload capacity (round-robin
/// over requesters), and the clock ticks. Checks the picker's promises as it goes.
/// </summary>
internal sealed class SwarmSimulation
{
    private readonly FakeTimeProvider _time = new();
    private readonly Random _random;
    private readonly SwarmState[] _states;
    private readonly bool[][] _linked;
    private readonly List<(int From, BlockRequest Block)>[] _queues; // requests waiting at each uploader
    private readonly int[] _capacity;
    private readonly int _pieces;
    private readonly double _dropRate;
    private readonly List<BlockRequest> _picked = [];
    private readonly List<PeerHandle> _cancels = [];
    private readonly List<PeerBlock> _timedOut = [];
    private readonly int _download;   // blocks a node can receive per round (its download link)
    private readonly int[] _received; // blocks received this round
    private readonly TimeSpan _round;

    public SwarmSimulation(int leechers, int pieces, int blocksPerPiece, int seed, bool originPolicy,
        int uploadBlocksPerRound = 8, int maxRequestsPerPeer = 8, double linkProbability = 1, double dropRate = 0,
        int[]? capacities = null, int downloadBlocksPerRound = int.MaxValue, SwarmOptions? options = null, TimeSpan? round = null)
    {
        _round = round ?? TimeSpan.FromSeconds(1);
        _download = downloadBlocksPerRound;
        _received = new int[leechers + 1];
        _nextRequester = new int[leechers + 1];
        _random = new Random(seed);
        _pieces = pieces;
        _dropRate = dropRate;
        MaxRequestsPerPeer = maxRequestsPerPeer;
        int n = leechers + 1;
        _states = new SwarmState[n];
        _linked = new bool[n][];
        _queues = new List<(int, BlockRequest)>[n];
        _capacity = new int[n];
        options ??= new SwarmOptions { RequestTimeout = TimeSpan.FromSeconds(20) };
        for (int i = 0; i < n; i++)
        {
            _states[i] = new SwarmState((long)pieces * blocksPerPiece * SwarmOptions.BlockSize, blocksPerPiece * SwarmOptions.BlockSize, options, _time, new Random(seed * 31 + i));
            _linked[i] = new bool[n];
            _queues[i] = [];
            _capacity[i] = capacities?[i] ?? uploadBlocksPerRound;
        }
        _states[0].MarkHaveAll();
        if (originPolicy) Policy = new OriginServePolicy(_states[0], _time);
        // Every leecher talks to the origin; leecher pairs are linked with the given probability.
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (i == 0 || _random.NextDouble() < linkProbability) Link(i, j);
    }

    public OriginServePolicy? Policy { get; }
    public int MaxRequestsPerPeer { get; }
    public long OriginBlocksSent { get; private set; }
    public long Rejects { get; private set; }
    public int Rounds { get; private set; }
    public bool AllComplete => _states.All(s => s.IsComplete);
    public double OriginPieceCopies => (double)OriginBlocksSent * SwarmOptions.BlockSize / _states[0].PieceLength;

    private void Link(int a, int b)
    {
        _linked[a][b] = _linked[b][a] = true;
        Connect(a, b);
        Connect(b, a);
    }

    private void Connect(int self, int other)
    {
        var peer = new PeerHandle(other);
        _states[self].AddPeer(peer);
        _states[self].OnBitfield(peer, _states[other].HaveSnapshot());
        _states[self].OnUnchoked(peer); // trusted LAN: everybody unchokes everybody
    }

    /// <summary>Runs until every leecher is complete or <paramref name="maxRounds"/> pass. Returns whether it completed.</summary>
    public bool Run(int maxRounds)
    {
        while (!AllComplete && Rounds < maxRounds) Step();
        return AllComplete;
    }

    /// <summary>Round in which each node completed (0 = not yet; the origin starts complete).</summary>
    public int[] CompletedAt => _completedAt;
    private int[]? _completedAtStore;
    private int[] _completedAt => _completedAtStore ??= new int[_states.Length];

    /// <summary>Round in which the origin had sent every piece at least once (0 = not yet or no policy).</summary>
    public int AllSentAt { get; private set; }

    public void Step()
    {
        Rounds++;
        int n = _states.Length;
        int offset = _random.Next(n);
        for (int k = 0; k < n; k++)
        {
            int i = (k + offset) % n;
            for (int d = 0; d < n; d++)
            {
                int j = (d + i + 1) % n;
                if (j != i && _linked[i][j]) RequestFrom(i, j);
            }
        }
        Array.Clear(_received);
        // Uploaders take turns a block at a time, so a receiver's download budget is shared fairly among its senders.
        var budgets = (int[])_capacity.Clone();
        bool progress = true;
        while (progress)
        {
            progress = false;
            for (int u = 0; u < n; u++)
                if (budgets[u] > 0 && ServeOne(u)) { budgets[u]--; progress = true; }
        }
        _time.Advance(_round);
        for (int i = 1; i < n; i++)
            if (_completedAt[i] == 0 && _states[i].IsComplete) _completedAt[i] = Rounds;
        if (AllSentAt == 0 && Policy is { UnsentPieces: 0 }) AllSentAt = Rounds;
        for (int i = 0; i < n; i++)
        {
            _timedOut.Clear();
            _states[i].Tick(_timedOut);
            // The engine would send CANCEL: drop them from the uploader's queue.
            foreach (var t in _timedOut) _queues[t.Peer.Value].Remove((i, t.Block));
        }
    }

    private void RequestFrom(int i, int j)
    {
        var me = _states[i];
        _picked.Clear();
        me.PickRequests(new PeerHandle(j), MaxRequestsPerPeer, _picked);
        foreach (var r in _picked)
        {
            if (!_states[j].Have(r.Piece)) throw new InvalidOperationException($"node {i} asked node {j} for piece {r.Piece} it lacks");
            int outstanding = 0;
            foreach (var q in _queues)
                foreach (var e in q)
                    if (e.From == i && e.Block == r) outstanding++;
            if (outstanding >= 1 && !me.IsEndgame) throw new InvalidOperationException($"node {i} asked twice for {r} outside endgame");
            if (outstanding >= 2) throw new InvalidOperationException($"node {i} asked more than twice for {r}");
            if (_queues[j].Contains((i, r))) throw new InvalidOperationException($"node {i} asked node {j} twice for {r}");
            _queues[j].Add((i, r));
        }
    }

    private readonly int[] _nextRequester;

    /// <summary>Sends one block from <paramref name="u"/>'s queue (round-robin over requesters that can still receive this round); rejects do not use the budget.</summary>
    private bool ServeOne(int u)
    {
        var queue = _queues[u];
        int n = _states.Length;
        for (int k = 0; k < n; k++)
        {
            int requester = (_nextRequester[u] + k) % n;
            if (_received[requester] >= _download) continue;
            int idx = queue.FindIndex(e => e.From == requester);
            if (idx < 0) continue;
            var (from, block) = queue[idx];
            queue.RemoveAt(idx);
            if (u == 0 && Policy is { } policy && !policy.ShouldServe(new PeerHandle(from), block.Piece))
            {
                Rejects++;
                _states[from].OnRejected(new PeerHandle(0), block);
                k--; // same requester may have more; try again
                continue;
            }
            _nextRequester[u] = (requester + 1) % n;
            _received[from]++;
            if (_dropRate > 0 && _random.NextDouble() < _dropRate) return true; // lost: the requester times out
            if (u == 0)
            {
                OriginBlocksSent++;
                Policy?.OnBlockSent(block.Length);
            }
            Deliver(from, u, block);
            return true;
        }
        return false;
    }

    private void Deliver(int to, int from, BlockRequest block)
    {
        var state = _states[to];
        _cancels.Clear();
        var status = state.BlockReceived(new PeerHandle(from), block, _cancels);
        foreach (var c in _cancels) _queues[c.Value].Remove((to, block));
        if (status == BlockReceivedStatus.Invalid) throw new InvalidOperationException($"invalid block {block}");
        if (status != BlockReceivedStatus.PieceComplete) return;
        state.PieceVerified(block.Piece);
        for (int k = 0; k < _states.Length; k++)
            if (k != to && _linked[k][to]) _states[k].OnHave(new PeerHandle(to), block.Piece);
    }

    public int PieceCount => _pieces;

    /// <summary>Rounds the last leecher needed, over the floor: the image's blocks ÷ one link's blocks per round.</summary>
    public double RoundsOverFloor(int linkBlocksPerRound) =>
        Rounds / ((double)_pieces * _states[0].BlockCount(0) / linkBlocksPerRound);
}
