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
    /// pieces no peer behind our own switch has, so each piece crosses the uplinks about once and spreads locally. A local
    /// one with a <paramref name="rendezvousKey"/> (<see cref="RendezvousKeyOf"/> of its peer id; 0 for a client that
    /// does not share imports, i.e. not BlockSwarm) takes its share of the pieces this switch fetches across the uplink.
    /// </summary>
    public void AddPeer(PeerHandle peer, bool remote = false, ulong rendezvousKey = 0)
    {
        lock (_gate)
        {
            ulong key = remote ? 0 : rendezvousKey;
            if (!_peers.TryAdd(peer, new PeerSwarmState(PieceCount, _time) { Remote = remote, Key = key }))
                throw new InvalidOperationException($"{peer} is already in the swarm");
            if (key != 0)
            {
                _localKeys.Add(key);
                LocalKeysChanged();
            }
            if (_banned.Contains(peer)) _peers[peer].Banned = true;
        }
    }

    /// <summary>Forgets a peer: its pieces leave the availability counts and its requests go back to the pool.</summary>
    public void RemovePeer(PeerHandle peer)
    {
        lock (_gate)
        {
            if (!_peers.Remove(peer, out var ps)) return;
            if (ps.Key != 0 && _localKeys.Remove(ps.Key)) LocalKeysChanged();
            if (ps.ImportClaims is { } claims)
            {
                for (int p = claims.NextSet(0); p >= 0; p = claims.NextSet(p + 1))
                    if (_importingBy[p] == peer.Value) (_importingSince[p], _importingBy[p]) = (0, 0);
            }
            for (int p = ps.Have.NextSet(0); p >= 0; p = ps.Have.NextSet(p + 1)) Lose(ps, p);
            ReleaseAll(peer, ps, keepAllowedFast: false);
        }
    }

    /// <summary>
    /// A peer behind our own switch says it is fetching <paramref name="piece"/> across the uplink: we leave that to it
    /// for <see cref="SwarmOptions.ImportIntentTimeout"/> (or until it leaves), and fetch the piece from it once it has it.
    /// Heard once per piece from each peer: saying it again does not extend the wait.
    /// </summary>
    public void OnImporting(PeerHandle peer, int piece)
    {
        lock (_gate)
        {
            if (!_peers.TryGetValue(peer, out var ps) || ps.Remote || (uint)piece >= (uint)PieceCount) return;
            // Once per piece and peer: a peer that kept saying it imports a piece it never gets would keep us from it.
            if (!(ps.ImportClaims ??= new Bitfield(PieceCount)).Set(piece)) return;
            _importingSince[piece] = Math.Max(1, _time.GetTimestamp());
            _importingBy[piece] = peer.Value;
            _importsHeard++;
        }
    }

    /// <summary>How many pieces local peers have said they import (<see cref="OnImporting"/>, counted once per message entry).</summary>
    public long ImportsHeard { get { lock (_gate) return _importsHeard; } }

    /// <summary>Pieces we began fetching across the uplink since the last call: tell the local peers (<see cref="OnImporting"/>).</summary>
    public int[] TakeImportsToAnnounce()
    {
        lock (_gate)
        {
            if (_importsToAnnounce.Count == 0) return [];
            int[] pieces = [.. _importsToAnnounce];
            _importsToAnnounce.Clear();
            return pieces;
        }
    }

    /// <summary>
    /// Requests to remote peers released because a peer behind our own switch now has their piece (<see cref="OnHave"/>):
    /// send CANCEL for them (<see cref="Session.PeerSession.CancelRuns"/> groups them into the runs they were asked as),
    /// so what is still queued there does not cross the uplink too.
    /// </summary>
    public PeerBlock[] TakeUplinkCancels()
    {
        lock (_gate)
        {
            if (_uplinkCancels.Count == 0) return [];
            PeerBlock[] released = [.. _uplinkCancels];
            _uplinkCancels.Clear();
            return released;
        }
    }

    /// <summary>
    /// The first peer behind our own switch has a piece we are fetching across the uplink: its blocks not received yet
    /// are released from the remote peers (listed for CANCEL) and asked of the local peers instead, as strict completion
    /// picks them. A run already on its way still arrives and counts as a duplicate.
    /// </summary>
    private void ReleaseUplinkRequests(int piece)
    {
        if (!_inProgress.TryGetValue(piece, out var pp)) return;
        for (int b = 0; b < pp.Blocks; b++)
        {
            if (pp.IsReceived[b]) continue;
            int baseIdx = b * pp.MaxRequestsPerBlock;
            for (int i = pp.RequestCount[b] - 1; i >= 0; i--)
            {
                var requester = pp.Requesters[baseIdx + i];
                if (!_peers.TryGetValue(requester, out var rps) || !rps.Remote) continue;
                pp.RemoveRequesterAt(b, i);
                if (pp.RequestCount[b] == 0) MarkFree(pp, b);
                DecrementOutstanding(rps);
                _uplinkCancels.Add(new PeerBlock(requester, BlockOf(piece, b)));
            }
        }
    }

    /// <summary>HAVE. Returns true when the peer now has a piece we lack and would ask it for (become interested).</summary>
    public bool OnHave(PeerHandle peer, int piece)
    {
        lock (_gate)
        {
            var ps = Get(peer);
            if (ps.Have.Set(piece))
            {
                Gain(ps, piece);
                if (!ps.Remote && _localAvailability[piece] == 1) ReleaseUplinkRequests(piece);
            }
            return WouldAsk(ps, piece);
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
            return WouldAsk(ps);
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
            return WouldAsk(ps);
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

    /// <summary>
    /// Whether the peer has any piece we lack that we would ask it for (we should be INTERESTED): for a peer behind
    /// another switch, one no local peer has and that we import or whose grace has passed; so the remote peers that
    /// see us interested are the ones whose upload would cross into our switch, and their chokers can tell.
    /// </summary>
    /// <remarks>False for a peer no longer in the swarm (a connection closing while a timer looks at it).</remarks>
    public bool IsInteresting(PeerHandle peer)
    {
        lock (_gate) return _peers.TryGetValue(peer, out var ps) && WouldAsk(ps);
    }

    private bool WouldAsk(PeerSwarmState ps)
    {
        if (!ps.Remote) return _have.LacksAnyOf(ps.Have);
        long now = _time.GetTimestamp();
        for (int p = ps.Have.NextSetExcept(_have, _have, 0); p >= 0; p = ps.Have.NextSetExcept(_have, _have, p + 1))
            if (MayFetchAcrossUplink(p, now)) return true;
        return false;
    }

    private bool WouldAsk(PeerSwarmState ps, int piece) =>
        !_have[piece] && (!ps.Remote || MayFetchAcrossUplink(piece, _time.GetTimestamp()));

    /// <summary>How many pieces the peer has announced (0 for a peer no longer in the swarm).</summary>
    public int PeerHaveCount(PeerHandle peer) { lock (_gate) return _peers.TryGetValue(peer, out var ps) ? ps.Have.Count : 0; }

    /// <summary>Whether the peer was added as behind another switch (false for a peer no longer in the swarm).</summary>
    public bool IsBehindOtherSwitch(PeerHandle peer) { lock (_gate) return _peers.TryGetValue(peer, out var ps) && ps.Remote; }

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
