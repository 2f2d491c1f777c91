namespace BlockSwarm.Engine.Swarm;

// Piece picking: which blocks to request from a peer that unchoked us.
public sealed partial class SwarmState
{
    /// <summary>
    /// Picks up to <paramref name="maxCount"/> block requests for <paramref name="peer"/>, never more than
    /// its pipeline has room for (<see cref="PipelineDepth"/> minus <see cref="Outstanding"/>; one request
    /// when snubbed), appends them to <paramref name="into"/> and records them as outstanding. Send them as REQUESTs.
    /// </summary>
    /// <remarks>
    /// Order: (1) blocks of pieces already started, oldest first (strict completion: a finished piece
    /// can be verified, written and shared; half pieces help nobody); (2) a new piece: random among the
    /// first <see cref="SwarmOptions.RandomFirstPieces"/> (something to trade quickly, and peers start
    /// apart), then rarest first, ties broken toward pieces next to ones we have or are fetching (disk
    /// locality), then the first found scanning from a random piece; (3) in endgame, blocks already requested from others, at most
    /// <see cref="SwarmOptions.EndgameMaxRequestsPerBlock"/> requests per block. Never a block the peer
    /// lacks; outside endgame never a block already requested.
    /// </remarks>
    public int PickRequests(PeerHandle peer, int maxCount, List<BlockRequest> into) => PickRequests(peer, maxCount, into, allowNewPieces: true);

    /// <summary>
    /// As <see cref="PickRequests(PeerHandle, int, List{BlockRequest})"/>; with <paramref name="allowNewPieces"/> false only
    /// pieces already started are continued (the engine's memory budget is full: finishing pieces frees it).
    /// </summary>
    public int PickRequests(PeerHandle peer, int maxCount, List<BlockRequest> into, bool allowNewPieces) =>
        PickRequests(peer, maxCount, into, allowNewPieces ? int.MaxValue : 0, minBatch: 1);

    /// <summary>As <see cref="PickRequests(PeerHandle, int, List{BlockRequest}, int, int)"/> with no limit on new pieces, or none at all.</summary>
    public int PickRequests(PeerHandle peer, int maxCount, List<BlockRequest> into, bool allowNewPieces, int minBatch) =>
        PickRequests(peer, maxCount, into, allowNewPieces ? int.MaxValue : 0, minBatch);

    /// <summary>
    /// As <see cref="PickRequests(PeerHandle, int, List{BlockRequest}, bool)"/>, starting at most <paramref name="maxNewPieces"/>
    /// new pieces (what the memory budget has room for), and while the peer still has requests outstanding, picking
    /// nothing until at least <paramref name="minBatch"/> (capped at a quarter of the pipeline) can be picked at once:
    /// refilling per received block would send one tiny REQUEST packet per block.
    /// </summary>
    public int PickRequests(PeerHandle peer, int maxCount, List<BlockRequest> into, int maxNewPieces, int minBatch) =>
        Pick(peer, maxCount, into, maxNewPieces, null, minBatch);

    /// <summary>
    /// As above, asking <paramref name="newPieceAllowance"/> under the swarm's lock, only when new pieces are wanted: two
    /// peers refilling at once cannot both take the last room in the memory budget (each started a 16 MiB piece on
    /// the same room, read before the lock). With a <paramref name="grain"/> of more than one block, a piece's blocks are
    /// taken up to the end of a grain even past the pipeline's room (by less than a grain): a peer sending runs of that
    /// many blocks (bs_reqlen) then asks for the same aligned runs of a piece as every other such peer.
    /// </summary>
    public int PickRequests(PeerHandle peer, int maxCount, List<BlockRequest> into, Func<int> newPieceAllowance, int minBatch, int grain = 1)
    {
        ArgumentNullException.ThrowIfNull(newPieceAllowance);
        return Pick(peer, maxCount, into, 0, newPieceAllowance, minBatch, grain);
    }

    private int Pick(PeerHandle peer, int maxCount, List<BlockRequest> into, int maxNewPieces, Func<int>? newPieceAllowance, int minBatch, int grain = 1)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_gate)
        {
            // A peer already removed (its connection closed while a timer or worker looked at it) gets nothing.
            if (!_peers.TryGetValue(peer, out var ps) || ps.Banned || _have.IsComplete) return 0;
            if (ps.ChokingUs && ps.AllowedFast is null) return 0;
            int depth = DepthOf(ps);
            int budget = Math.Min(maxCount, depth - ps.Outstanding);
            if (budget <= 0) return 0;
            if (ps.Outstanding > 0 && budget < Math.Min(minBatch, Math.Max(1, depth / 4))) return 0;

            long now = _time.GetTimestamp();
            int added = 0;

            // (1) strict completion.
            for (int i = 0; i < _inProgressOrder.Count && added < budget; i++)
            {
                var pp = _inProgressOrder[i];
                if (CanAsk(ps, pp.Piece, now)) added += TakeFree(pp, peer, ps, budget - added, now, into, grain);
            }

            // (2) new pieces.
            if (newPieceAllowance != null) maxNewPieces = added < budget ? newPieceAllowance() : 0;
            for (int started = 0; added < budget && started < maxNewPieces; started++)
            {
                int piece = _have.Count < _options.RandomFirstPieces ? PickRandomNew(ps, now) : PickRarestNew(ps, now);
                if (piece < 0) break;
                added += TakeFree(Start(piece), peer, ps, budget - added, now, into, grain);
            }

            // (3) endgame duplicates.
            if (added < budget && InEndgame)
            {
                for (int i = 0; i < _inProgressOrder.Count && added < budget; i++)
                {
                    var pp = _inProgressOrder[i];
                    if (CanAsk(ps, pp.Piece, now)) added += TakeDuplicates(pp, peer, ps, budget - added, now, into);
                }
            }
            return added;
        }
    }

    private bool CanAsk(PeerSwarmState ps, int piece, long now)
    {
        if (!ps.Have[piece]) return false;
        // Across the uplink only what no peer behind our own switch has, and first only what we claim.
        if (ps.Remote && !MayFetchAcrossUplink(piece, now)) return false;
        if (ps.ChokingUs && (ps.AllowedFast is not { } fast || !fast.Contains(piece))) return false;
        if (ps.Backoff is { } backoff && backoff.TryGetValue(piece, out long until))
        {
            if (now < until) return false;
            backoff.Remove(piece);
        }
        return true;
    }

    private int PickRandomNew(PeerSwarmState ps, long now)
    {
        // Reservoir sampling over the candidates: one pass, uniform, no allocation.
        int chosen = -1, seen = 0;
        for (int p = ps.Have.NextSetExcept(_have, _started, 0); p >= 0; p = ps.Have.NextSetExcept(_have, _started, p + 1))
        {
            if (!CanAsk(ps, p, now)) continue;
            if (_random.Next(++seen) == 0) chosen = p;
        }
        return chosen;
    }

    private int PickRarestNew(PeerSwarmState ps, long now)
    {
        // The scan starts at a random piece and wraps: full ties go to a random piece, not the lowest index.
        // Lowest-index ties made every peer ask the origin for the same rare piece at once (a herd the
        // origin then rejects piece by piece) and, without an origin policy, fetch the same piece twice.
        int best = -1, bestAvail = int.MaxValue;
        bool bestAdjacent = false;
        int start = _random.Next(PieceCount);
        for (int pass = 0; pass < 2; pass++)
        {
            int from = pass == 0 ? start : 0, to = pass == 0 ? PieceCount : start;
            // Candidates a word at a time: pieces the peer has that we neither have nor started.
            for (int p = ps.Have.NextSetExcept(_have, _started, from); p >= 0 && p < to; p = ps.Have.NextSetExcept(_have, _started, p + 1))
            {
                int avail = _availability[p];
                if (avail > bestAvail || !CanAsk(ps, p, now)) continue;
                bool adjacent = IsAdjacentToOurs(p);
                if (avail < bestAvail || (adjacent && !bestAdjacent))
                {
                    best = p;
                    bestAvail = avail;
                    bestAdjacent = adjacent;
                    // Nothing can beat a piece only this peer has next to one of ours: later ties never replace it.
                    if (bestAvail <= 1 && bestAdjacent) return best;
                }
            }
        }
        return best;
    }

    private bool IsAdjacentToOurs(int p) =>
        (p > 0 && (_have[p - 1] || _started[p - 1])) || (p + 1 < PieceCount && (_have[p + 1] || _started[p + 1]));

    private PieceProgress Start(int piece)
    {
        var pp = _progressPool.Count > 0
            ? _progressPool.Pop()
            : new PieceProgress(PieceLength / SwarmOptions.BlockSize, _options.EndgameMaxRequestsPerBlock);
        pp.Reset(piece, BlockCount(piece));
        _inProgress.Add(piece, pp);
        _inProgressOrder.Add(pp);
        _started[piece] = true;
        ChangeStartedBytes(PieceSize(piece));
        return pp;
    }

    private int TakeFree(PieceProgress pp, PeerHandle peer, PeerSwarmState ps, int max, long now, List<BlockRequest> into, int grain = 1)
    {
        int added = 0;
        int b = pp.FirstFree;
        // Past max only to finish the grain a taken block is in.
        for (; b < pp.Blocks && (added < max || (added > 0 && b % grain != 0)); b++)
        {
            if (pp.IsReceived[b] || pp.RequestCount[b] != 0) continue;
            AddRequest(pp, b, peer, ps, now, into);
            _unrequestedBlocks--;
            added++;
        }
        // Everything before b is taken now; the hint may only move forward past taken blocks.
        if (pp.FirstFree < b && added > 0) pp.FirstFree = b;
        return added;
    }

    private int TakeDuplicates(PieceProgress pp, PeerHandle peer, PeerSwarmState ps, int max, long now, List<BlockRequest> into)
    {
        int added = 0;
        for (int b = 0; b < pp.Blocks && added < max; b++)
        {
            if (pp.IsReceived[b] || pp.RequestCount[b] >= pp.MaxRequestsPerBlock || pp.IsRequestedBy(b, peer)) continue;
            if (pp.RequestCount[b] == 0) _unrequestedBlocks--;
            AddRequest(pp, b, peer, ps, now, into);
            added++;
        }
        return added;
    }

    private void AddRequest(PieceProgress pp, int b, PeerHandle peer, PeerSwarmState ps, long now, List<BlockRequest> into)
    {
        pp.AddRequester(b, peer, now);
        if (ps.Remote && _announcedImports.Set(pp.Piece)) _importsToAnnounce.Add(pp.Piece);
        ps.Outstanding++;
        ps.OwedSince ??= now;
        into.Add(BlockOf(pp.Piece, b));
    }
}
