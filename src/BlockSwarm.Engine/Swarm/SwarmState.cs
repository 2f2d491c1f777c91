namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// The shared swarm state of one torrent: our pieces, every peer's pieces and the availability
/// counts they add up to, and which blocks are requested from whom and since when. Per-peer loops
/// call it concurrently; one lock guards everything, and each call does a bounded amount of work.
/// Piece picking lives in <c>SwarmState.PiecePicker.cs</c>.
/// </summary>
/// <remarks>
/// The engine's duties: <see cref="AddPeer"/> on connect and <see cref="RemovePeer"/> on
/// disconnect; feed HAVE/BITFIELD/HAVE-ALL/HAVE-NONE/CHOKE/UNCHOKE/REJECT/ALLOWED-FAST; when unchoked
/// call <see cref="PickRequests"/> and send what it returns; on PIECE call <see cref="BlockReceived"/>,
/// send CANCEL to the peers it lists, and hash the piece on <see cref="BlockReceivedStatus.PieceComplete"/>;
/// report the hash result with <see cref="PieceVerified"/> or <see cref="PieceHashFailed"/> (and
/// disconnect the peers it bans); call <see cref="Tick"/> about once a second.
/// </remarks>
public sealed partial class SwarmState
{
    private readonly Lock _gate = new();
    private readonly SwarmOptions _options;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Bitfield _have;
    private readonly Bitfield _started; // pieces with a PieceProgress
    private readonly int[] _availability;
    private readonly int[] _localAvailability; // the same, counting only peers behind our own switch
    private readonly long[] _remoteSince;      // when a remote peer first had the piece (0 = none yet)
    private readonly long _claimGraceTicks;
    private ulong? _ownKey;                    // our rendezvous key: which remote-only pieces we import (RemoteClaimGrace)
    private readonly List<ulong> _localKeys = []; // the rendezvous keys of the local peers that take part
    private readonly long[] _importingSince;   // when a local peer said it fetches the piece across the uplink (0 = none)
    private readonly int[] _importingBy;       // which local peer (PeerHandle.Value) said so
    private readonly Bitfield _announcedImports; // pieces we told our local peers we import
    private readonly List<int> _importsToAnnounce = [];
    private readonly List<PeerBlock> _uplinkCancels = [];
    private readonly long _importIntentTicks;
    private long _importsHeard;
    private sbyte[]? _importer;                // per piece: 1 we import it, -1 a local peer does, 0 not worked out since the local peers changed
    private readonly Dictionary<PeerHandle, PeerSwarmState> _peers = [];
    private readonly Dictionary<int, PieceProgress> _inProgress = [];
    private readonly List<PieceProgress> _inProgressOrder = []; // start order: strict completion finishes older pieces first
    private readonly Stack<PieceProgress> _progressPool = new();
    private readonly Dictionary<PeerHandle, int> _soleFailures = [];
    private readonly HashSet<PeerHandle> _banned = [];
    private readonly long _timeoutTicks;
    private readonly long _snubTicks;
    private readonly long _backoffTicks;

    // Blocks of pieces we lack that are neither received nor requested from anyone. Zero means every
    // missing block is on its way: endgame.
    private long _unrequestedBlocks;

    // Bytes of the pieces started (requested and not yet ours), and who else counts them (an engine-wide budget).
    private long _startedBytes;
    private readonly Action<long>? _startedBytesChanged;

    /// <param name="startedBytesChanged">
    /// Told (under this object's lock; keep it cheap) how many bytes of started pieces were added or dropped, so a memory
    /// budget shared with other torrents counts a piece from the moment its first block is requested, not from the
    /// moment its first block arrives (by then a whole pipeline of new pieces may have been asked for).
    /// </param>
    public SwarmState(long totalLength, int pieceLength, SwarmOptions? options = null, TimeProvider? time = null, Random? random = null,
        Action<long>? startedBytesChanged = null)
    {
        _startedBytesChanged = startedBytesChanged;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(totalLength, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pieceLength, 0);
        if (pieceLength % SwarmOptions.BlockSize != 0)
            throw new ArgumentException($"piece length must be a multiple of {SwarmOptions.BlockSize}", nameof(pieceLength));
        _options = options ?? new SwarmOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.EndgameMaxRequestsPerBlock, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.EndgameMaxRequestsPerBlock, byte.MaxValue);
        _time = time ?? TimeProvider.System;
        _random = random ?? new Random();
        long pieces = (totalLength + pieceLength - 1) / pieceLength;
        if (pieces > int.MaxValue) throw new ArgumentException("too many pieces", nameof(pieceLength));
        TotalLength = totalLength;
        PieceLength = pieceLength;
        PieceCount = (int)pieces;
        LastPieceLength = (int)(totalLength - (long)(PieceCount - 1) * pieceLength);
        _have = new Bitfield(PieceCount);
        _started = new Bitfield(PieceCount);
        _availability = new int[PieceCount];
        _localAvailability = new int[PieceCount];
        _remoteSince = new long[PieceCount];
        _importingSince = new long[PieceCount];
        _importingBy = new int[PieceCount];
        _announcedImports = new Bitfield(PieceCount);
        _importIntentTicks = ToTicks(_options.ImportIntentTimeout);
        _claimGraceTicks = ToTicks(_options.RemoteClaimGrace);
        _unrequestedBlocks = (totalLength + SwarmOptions.BlockSize - 1) / SwarmOptions.BlockSize;
        _timeoutTicks = ToTicks(_options.RequestTimeout);
        _snubTicks = ToTicks(_options.SnubTimeout);
        _backoffTicks = ToTicks(_options.RejectBackoff);
    }

    public long TotalLength { get; }

    /// <summary>
    /// Our rendezvous key among the peers behind our own switch (<see cref="RendezvousKeyOf"/> of our peer id, which they
    /// see in our handshake); unset, one is drawn from the random source on first use.
    /// </summary>
    public ulong? RendezvousKey { get => _ownKey; init => _ownKey = value; }

    /// <summary>
    /// A peer's rendezvous key from its peer id. Every BlockSwarm peer of a switch works out the same key for the same
    /// peer, so they agree which of them imports a piece across the uplink (<see cref="SwarmOptions.RemoteClaimGrace"/>).
    /// </summary>
    public static ulong RendezvousKeyOf(ReadOnlySpan<byte> peerId)
    {
        ulong h = 0xCBF29CE484222325UL; // FNV-1a, then a finaliser: a fixed function, the same in every process
        foreach (byte b in peerId) h = (h ^ b) * 0x100000001B3UL;
        return Mix(h) | 1; // never 0, which means "takes no part"
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Rank(ulong key, int piece) => Mix(key ^ ((ulong)piece * 0x9E3779B97F4A7C15UL));

    /// <summary>Bytes of the pieces started and not yet ours: what their buffers will hold once their blocks arrive.</summary>
    public long StartedBytes { get { lock (_gate) return _startedBytes; } }
    public int PieceCount { get; }
    public int PieceLength { get; }
    public int LastPieceLength { get; }

    public int PieceSize(int piece) => piece == PieceCount - 1 ? LastPieceLength : PieceLength;
    public int BlockCount(int piece) => (PieceSize(piece) + SwarmOptions.BlockSize - 1) / SwarmOptions.BlockSize;

    // ---- our pieces ------------------------------------------------------------------------

    public bool Have(int piece) { lock (_gate) return _have[piece]; }
    public int HaveCount { get { lock (_gate) return _have.Count; } }
    public bool IsComplete { get { lock (_gate) return _have.IsComplete; } }

    /// <summary>A copy of our have-bitfield, e.g. to send as BITFIELD.</summary>
    public Bitfield HaveSnapshot() { lock (_gate) return _have.Clone(); }

    /// <summary>True when every missing block is requested: duplicates are now allowed.</summary>
    public bool IsEndgame { get { lock (_gate) return InEndgame; } }

    private bool InEndgame => _unrequestedBlocks == 0 && !_have.IsComplete;

    /// <summary>Marks a piece as present without downloading it (resume, or the origin's full image).</summary>
    public void MarkHave(int piece)
    {
        lock (_gate) SetHave(piece);
    }

    public void MarkHaveAll()
    {
        lock (_gate)
            for (int p = _have.NextClear(0); p >= 0; p = _have.NextClear(p + 1)) SetHave(p);
    }

    // ---- blocks and pieces -----------------------------------------------------------------

    /// <summary>Requests outstanding at the peer.</summary>
    public int Outstanding(PeerHandle peer) { lock (_gate) return Get(peer).Outstanding; }

    public bool IsSnubbed(PeerHandle peer) { lock (_gate) return Get(peer).Snubbed; }

    public bool IsBanned(PeerHandle peer) { lock (_gate) return _banned.Contains(peer); }

    /// <summary>Payload bytes per second received from the peer (for the choker and the pipeline).</summary>
    public double DownloadRate(PeerHandle peer) { lock (_gate) return Get(peer).Download.BytesPerSecond; }

    /// <summary>How many requests the peer's pipeline should hold now (adaptive, see <see cref="RequestPipeline"/>).</summary>
    public int PipelineDepth(PeerHandle peer) { lock (_gate) return DepthOf(Get(peer)); }

    /// <summary>
    /// A PIECE message arrived. Adds the peers that were also asked for this block (endgame) to
    /// <paramref name="cancelTo"/>: send them CANCEL. On <see cref="BlockReceivedStatus.PieceComplete"/>
    /// the piece is ready to hash.
    /// </summary>
    public BlockReceivedStatus BlockReceived(PeerHandle peer, BlockRequest block, List<PeerHandle> cancelTo)
    {
        ArgumentNullException.ThrowIfNull(cancelTo);
        if ((uint)block.Piece >= (uint)PieceCount || !IsOnGrid(block)) return BlockReceivedStatus.Invalid;
        lock (_gate)
        {
            var ps = Get(peer);
            if (_have[block.Piece]) return BlockReceivedStatus.Duplicate;
            if (!_inProgress.TryGetValue(block.Piece, out var pp)) return BlockReceivedStatus.Unrequested;
            int b = block.Begin / SwarmOptions.BlockSize;
            if (pp.IsReceived[b]) return BlockReceivedStatus.Duplicate;

            long now = _time.GetTimestamp();
            if (pp.RequestCount[b] == 0) _unrequestedBlocks--; // a late answer to a released request still counts
            int baseIdx = b * pp.MaxRequestsPerBlock;
            for (int i = pp.RequestCount[b] - 1; i >= 0; i--)
            {
                var other = pp.Requesters[baseIdx + i];
                if (other != peer) cancelTo.Add(other);
                if (_peers.TryGetValue(other, out var ops)) DecrementOutstanding(ops);
            }
            pp.RequestCount[b] = 0;
            pp.IsReceived[b] = true;
            pp.DeliveredBy[b] = peer;
            pp.ReceivedCount++;

            ps.HasDelivered = true;
            ps.Snubbed = false;
            ps.OwedSince = ps.Outstanding > 0 ? now : null;
            ps.Download.Add(block.Length);
            return pp.IsFullyReceived ? BlockReceivedStatus.PieceComplete : BlockReceivedStatus.Accepted;
        }
    }

    /// <summary>The piece's hash matched: it is ours now (send HAVE).</summary>
    public void PieceVerified(int piece)
    {
        CheckPiece(piece);
        lock (_gate) SetHave(piece);
    }

    /// <summary>
    /// The piece's hash did not match: its blocks are fetched again. A peer that alone supplied
    /// <see cref="SwarmOptions.BanAfterSoleFailures"/> bad pieces is banned and added to
    /// <paramref name="banned"/> (disconnect it). Its requests are released at once.
    /// </summary>
    public void PieceHashFailed(int piece, List<PeerHandle> banned)
    {
        ArgumentNullException.ThrowIfNull(banned);
        CheckPiece(piece);
        lock (_gate)
        {
            if (!_inProgress.TryGetValue(piece, out var pp)) return;
            PeerHandle sole = default;
            int distinct = 0;
            for (int b = 0; b < pp.Blocks; b++)
            {
                if (!pp.IsReceived[b]) continue;
                var by = pp.DeliveredBy[b];
                if (distinct == 0) { sole = by; distinct = 1; }
                else if (by != sole) { distinct = 2; break; }
            }
            // Received blocks had their requesters cleared; only unreceived ones may still be requested.
            for (int b = 0; b < pp.Blocks; b++)
                if (pp.IsReceived[b]) _unrequestedBlocks++;
            ReleaseRequestsOf(pp);
            pp.ResetBlocks();

            if (distinct != 1) return;
            long now = _time.GetTimestamp();
            if (_peers.TryGetValue(sole, out var sps)) (sps.Backoff ??= [])[piece] = now + _backoffTicks;
            int failures = _soleFailures[sole] = _soleFailures.GetValueOrDefault(sole) + 1;
            if (failures >= _options.BanAfterSoleFailures && _banned.Add(sole))
            {
                banned.Add(sole);
                if (sps is not null)
                {
                    sps.Banned = true;
                    ReleaseAll(sole, sps, keepAllowedFast: false);
                }
            }
        }
    }

    /// <summary>
    /// Housekeeping, about once a second: requests older than <see cref="SwarmOptions.RequestTimeout"/>
    /// are released for other peers (added to <paramref name="timedOut"/>: the engine may send CANCEL),
    /// and peers that owe data for longer than <see cref="SwarmOptions.SnubTimeout"/> are snubbed.
    /// </summary>
    public int Tick(List<PeerBlock> timedOut)
    {
        ArgumentNullException.ThrowIfNull(timedOut);
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            int released = 0;
            for (int k = _inProgressOrder.Count - 1; k >= 0; k--)
            {
                var pp = _inProgressOrder[k];
                for (int b = 0; b < pp.Blocks; b++)
                {
                    int baseIdx = b * pp.MaxRequestsPerBlock;
                    for (int i = pp.RequestCount[b] - 1; i >= 0; i--)
                    {
                        if (now - pp.RequestedAt[baseIdx + i] < _timeoutTicks) continue;
                        var peer = pp.Requesters[baseIdx + i];
                        pp.RemoveRequesterAt(b, i);
                        if (pp.RequestCount[b] == 0) MarkFree(pp, b);
                        // Keep OwedSince: a timed-out request is not an answer, the snub clock keeps running.
                        if (_peers.TryGetValue(peer, out var ps)) ps.Outstanding--;
                        timedOut.Add(new PeerBlock(peer, BlockOf(pp.Piece, b)));
                        released++;
                    }
                }
                UnstartIfUntouched(pp);
            }
            foreach (var ps in _peers.Values)
                if (ps.OwedSince is { } since && now - since >= _snubTicks) ps.Snubbed = true;
            return released;
        }
    }

    // ---- internals -------------------------------------------------------------------------

    private PeerSwarmState Get(PeerHandle peer) =>
        _peers.TryGetValue(peer, out var ps) ? ps : throw new InvalidOperationException($"{peer} is not in the swarm");

    private int DepthOf(PeerSwarmState ps) => ps.Snubbed ? 1 : _options.Pipeline.DepthFor(ps.HasDelivered ? ps.Download.BytesPerSecond : null);

    /// <summary>Exactly one block of the grid (what BEP 3 peers send and what is tracked).</summary>
    private bool IsOnGrid(BlockRequest block) => block.Length <= SwarmOptions.BlockSize && IsRunOnGrid(block);

    private BlockRequest BlockOf(int piece, int block)
    {
        int begin = block * SwarmOptions.BlockSize;
        return new BlockRequest(piece, begin, Math.Min(SwarmOptions.BlockSize, PieceSize(piece) - begin));
    }

    private void CheckPiece(int piece)
    {
        if ((uint)piece >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(piece), piece, $"piece index must be in [0, {PieceCount})");
    }

    private void SetHave(int piece)
    {
        if (_have[piece]) return;
        if (_inProgress.Remove(piece, out var pp))
        {
            ReleaseRequestsOf(pp);
            for (int b = 0; b < pp.Blocks; b++)
                if (!pp.IsReceived[b]) _unrequestedBlocks--;
            _inProgressOrder.Remove(pp);
            _started[piece] = false;
            _progressPool.Push(pp);
            ChangeStartedBytes(-PieceSize(piece));
        }
        else
        {
            _unrequestedBlocks -= BlockCount(piece);
        }
        _have[piece] = true;
    }

    /// <summary>Drops every request of the piece (for a reset or a piece obtained otherwise); no CANCEL is reported.</summary>
    private void ReleaseRequestsOf(PieceProgress pp)
    {
        for (int b = 0; b < pp.Blocks; b++)
        {
            int baseIdx = b * pp.MaxRequestsPerBlock;
            for (int i = 0; i < pp.RequestCount[b]; i++)
                if (_peers.TryGetValue(pp.Requesters[baseIdx + i], out var ps)) DecrementOutstanding(ps);
            if (pp.RequestCount[b] > 0 && !pp.IsReceived[b]) _unrequestedBlocks++;
            pp.RequestCount[b] = 0;
        }
        pp.FirstFree = 0;
    }

    private void ReleaseAll(PeerHandle peer, PeerSwarmState ps, bool keepAllowedFast)
    {
        if (ps.Outstanding == 0) return;
        for (int k = _inProgressOrder.Count - 1; k >= 0; k--)
        {
            var pp = _inProgressOrder[k];
            if (keepAllowedFast && ps.AllowedFast is { } fast && fast.Contains(pp.Piece)) continue;
            for (int b = 0; b < pp.Blocks; b++)
                if (pp.RequestCount[b] > 0) ReleaseRequest(pp, b, peer, ps);
            UnstartIfUntouched(pp);
        }
    }

    /// <summary>
    /// A started piece with nothing received and nothing requested goes back to the unstarted pool.
    /// Otherwise strict completion would keep steering every peer to pieces that were rejected or
    /// timed out, and rarest-first would never get to choose again (an origin spreading pieces
    /// rejects exactly those).
    /// </summary>
    private void UnstartIfUntouched(PieceProgress pp)
    {
        if (pp.ReceivedCount != 0) return;
        for (int b = 0; b < pp.Blocks; b++)
            if (pp.RequestCount[b] != 0) return;
        _inProgress.Remove(pp.Piece);
        _inProgressOrder.Remove(pp);
        _started[pp.Piece] = false;
        _progressPool.Push(pp);
        ChangeStartedBytes(-PieceSize(pp.Piece));
    }

    private void ChangeStartedBytes(long bytes)
    {
        _startedBytes += bytes;
        _startedBytesChanged?.Invoke(bytes);
    }

    private void ReleaseRequest(PieceProgress pp, int b, PeerHandle peer, PeerSwarmState ps)
    {
        int baseIdx = b * pp.MaxRequestsPerBlock;
        for (int i = 0; i < pp.RequestCount[b]; i++)
        {
            if (pp.Requesters[baseIdx + i] != peer) continue;
            pp.RemoveRequesterAt(b, i);
            if (pp.RequestCount[b] == 0) MarkFree(pp, b);
            DecrementOutstanding(ps);
            return;
        }
    }

    private void MarkFree(PieceProgress pp, int b)
    {
        if (pp.IsReceived[b]) return;
        _unrequestedBlocks++;
        if (b < pp.FirstFree) pp.FirstFree = b;
    }

    private static void DecrementOutstanding(PeerSwarmState ps)
    {
        ps.Outstanding--;
        if (ps.Outstanding == 0) ps.OwedSince = null;
    }

    private void Gain(PeerSwarmState ps, int piece)
    {
        _availability[piece]++;
        if (!ps.Remote) _localAvailability[piece]++;
        else if (_remoteSince[piece] == 0) _remoteSince[piece] = Math.Max(1, _time.GetTimestamp());
    }

    /// <summary>
    /// Whether to ask a remote peer for a piece: never while a local peer has it or says it imports it; then if we import
    /// it, or once it has been there for <see cref="SwarmOptions.RemoteClaimGrace"/>. Of us and the local peers that take part, the one whose key ranks
    /// the piece lowest imports it (rendezvous hashing): each piece has one importer per switch while the local peers
    /// see each other, and a peer joining or leaving moves only the pieces it imports or would import.
    /// </summary>
    private bool MayFetchAcrossUplink(int piece, long now)
    {
        if (_localAvailability[piece] > 0) return false;
        if (_importingSince[piece] != 0 && now - _importingSince[piece] < _importIntentTicks) return false;
        if (IsOursToImport(piece)) return true;
        return _remoteSince[piece] != 0 && now - _remoteSince[piece] >= _claimGraceTicks;
    }

    private bool IsOursToImport(int piece)
    {
        _importer ??= new sbyte[PieceCount];
        if (_importer[piece] == 0)
        {
            _ownKey ??= (ulong)_random.NextInt64() | 1; // drawn only once a remote peer is asked: a one-subnet swarm's picks stay as they were
            ulong mine = Rank(_ownKey.Value, piece);
            bool ours = true;
            foreach (ulong key in _localKeys)
            {
                if (Rank(key, piece) < mine)
                {
                    ours = false;
                    break;
                }
            }
            _importer[piece] = ours ? (sbyte)1 : (sbyte)-1;
        }
        return _importer[piece] > 0;
    }

    /// <summary>A local peer that takes part came or went: who imports what is worked out again, piece by piece as asked.</summary>
    private void LocalKeysChanged()
    {
        if (_importer != null) Array.Clear(_importer);
    }

    private void Lose(PeerSwarmState ps, int piece)
    {
        _availability[piece]--;
        if (!ps.Remote) _localAvailability[piece]--;
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);
}
