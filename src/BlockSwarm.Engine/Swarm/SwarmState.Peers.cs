namespace BlockSwarm.Engine.Swarm;

// What peers tell us: who they are, which pieces they have, choking, rejects, allowed-fast.
public sealed partial class SwarmState
{
    // ---- peers -----------------------------------------------------------------------------

    public int PeerCount { get { lock (_gate) return _peers.Count; } }

    /// <summary>How many connected peers have <paramref name="piece"/> (we are not counted).</summary>
    public int Availability(int piece) { lock (_gate) return _availability[piece]; }

    /// <summary>How many connected peers behind our own switch have <paramref name="piece"/> (all of them when none is remote).</summary>
    public int LocalAvailability(int piece) { lock (_gate) return _localAvailability[piece]; }

    /// <summary>
    /// A peer connected. A <paramref name="remote"/> one is behind another switch (another subnet): it is asked only for
    /// pieces no peer behind our own switch has, so each piece crosses the uplinks about once and spreads locally.
    /// </summary>
    public void AddPeer(PeerHandle peer, bool remote = false)
    {
        lock (_gate)
        {
            if (!_peers.TryAdd(peer, new PeerSwarmState(PieceCount, _time) { Remote = remote }))
                throw new InvalidOperationException($"{peer} is already in the swarm");
            if (!remote) _localPeers++;
            if (_banned.Contains(peer)) _peers[peer].Banned = true;
        }
    }

    /// <summary>Forgets a peer: its pieces leave the availability counts and its requests go back to the pool.</summary>
    public void RemovePeer(PeerHandle peer)
    {
        lock (_gate)
        {
            if (!_peers.Remove(peer, out var ps)) return;
            if (!ps.Remote) _localPeers--;
            for (int p = ps.Have.NextSet(0); p >= 0; p = ps.Have.NextSet(p + 1)) Lose(ps, p);
            ReleaseAll(peer, ps, keepAllowedFast: false);
        }
    }

    /// <summary>HAVE. Returns true when the peer now has a piece we lack (become interested).</summary>
    public bool OnHave(PeerHandle peer, int piece)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            if (ps.Have.Set(piece)) Gain(ps, piece);
            return !_have[piece];
        }
    }

    /// <summary>BITFIELD (or a replacement of it). Returns whether we are interested in the peer.</summary>
    public bool OnBitfield(PeerHandle peer, Bitfield pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (pieces.Length != PieceCount) throw new ArgumentException($"bitfield has {pieces.Length} pieces, torrent has {PieceCount}", nameof(pieces));
        lock (_gate)
        {
            var ps = Get(peer);
            for (int p = ps.Have.NextSet(0); p >= 0; p = ps.Have.NextSet(p + 1)) Lose(ps, p);
            ps.Have.ClearAll();
            for (int p = pieces.NextSet(0); p >= 0; p = pieces.NextSet(p + 1))
            {
                ps.Have[p] = true;
                Gain(ps, p);
            }
            return _have.LacksAnyOf(ps.Have);
        }
    }

    /// <summary>HAVE-ALL (BEP 6): the peer is a seed.</summary>
    public bool OnHaveAll(PeerHandle peer)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            for (int p = ps.Have.NextClear(0); p >= 0; p = ps.Have.NextClear(p + 1)) Gain(ps, p);
            ps.Have.SetAll();
            return !_have.IsComplete;
        }
    }

    /// <summary>HAVE-NONE (BEP 6).</summary>
    public void OnHaveNone(PeerHandle peer)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            for (int p = ps.Have.NextSet(0); p >= 0; p = ps.Have.NextSet(p + 1)) Lose(ps, p);
            ps.Have.ClearAll();
        }
    }

    /// <summary>Whether the peer has any piece we lack (we should be INTERESTED).</summary>
    /// <remarks>False for a peer no longer in the swarm (a connection closing while a timer looks at it).</remarks>
    public bool IsInteresting(PeerHandle peer)
    {
        lock (_gate) return _peers.TryGetValue(peer, out var ps) && _have.LacksAnyOf(ps.Have);
    }

    /// <summary>How many pieces the peer has announced (0 for a peer no longer in the swarm).</summary>
    public int PeerHaveCount(PeerHandle peer) { lock (_gate) return _peers.TryGetValue(peer, out var ps) ? ps.Have.Count : 0; }

    public bool PeerHas(PeerHandle peer, int piece) { lock (_gate) return _peers.TryGetValue(peer, out var ps) && ps.Have[piece]; }
    public bool PeerIsSeed(PeerHandle peer) { lock (_gate) return _peers.TryGetValue(peer, out var ps) && ps.Have.IsComplete; }

    // ---- choke / reject --------------------------------------------------------------------

    /// <summary>CHOKE: the peer drops our queued requests, so they go back to the pool, except
    /// allowed-fast ones (BEP 6: a choking peer still serves those).</summary>
    public void OnChoked(PeerHandle peer)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            ps.ChokingUs = true;
            ReleaseAll(peer, ps, keepAllowedFast: true);
        }
    }

    public void OnUnchoked(PeerHandle peer)
    {
        lock (_gate) Get(peer).ChokingUs = false;
    }

    public bool IsChokingUs(PeerHandle peer) { lock (_gate) return Get(peer).ChokingUs; }

    /// <summary>ALLOWED-FAST (BEP 6): this piece may be requested even while the peer chokes us.</summary>
    public void OnAllowedFast(PeerHandle peer, int piece)
    {
        CheckPiece(piece);
        lock (_gate) (Get(peer).AllowedFast ??= []).Add(piece);
    }

    /// <summary>
    /// REJECT-REQUEST (BEP 6): the block goes back to the pool and the peer is not asked for that
    /// piece for <see cref="SwarmOptions.RejectBackoff"/> (an origin spreading pieces rejects on purpose).
    /// </summary>
    public void OnRejected(PeerHandle peer, BlockRequest block)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            (ps.Backoff ??= [])[block.Piece] = _time.GetTimestamp() + _backoffTicks;
            // A rejected run (a long request) releases each of its blocks.
            if (!_inProgress.TryGetValue(block.Piece, out var pp) || !IsRunOnGrid(block)) return;
            int first = block.Begin / SwarmOptions.BlockSize, end = first + BlocksIn(block);
            for (int b = first; b < end; b++) ReleaseRequest(pp, b, peer, ps);
            UnstartIfUntouched(pp);
        }
    }

    /// <summary>
    /// True for one block of the grid or a run of consecutive ones (what a long request covers): inside the piece,
    /// starting on a block boundary, whole blocks except that it may end with the piece's short last block.
    /// </summary>
    public bool IsRunOnGrid(BlockRequest run)
    {
        if ((uint)run.Piece >= (uint)PieceCount || run.Begin < 0 || run.Begin % SwarmOptions.BlockSize != 0 || run.Length <= 0) return false;
        long end = (long)run.Begin + run.Length;
        int size = PieceSize(run.Piece);
        return end <= size && (run.Length % SwarmOptions.BlockSize == 0 || end == size);
    }

    private static int BlocksIn(BlockRequest run) => (run.Length + SwarmOptions.BlockSize - 1) / SwarmOptions.BlockSize;
}
