using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class SwarmStateTests
{
    private const int Block = SwarmOptions.BlockSize;
    private static readonly PeerHandle A = new(1), B = new(2), C = new(3);

    private readonly FakeTimeProvider _time = new();

    /// <summary><paramref name="pieces"/> pieces of <paramref name="blocksPerPiece"/> blocks; random-first off unless asked.</summary>
    private SwarmState NewState(int pieces, int blocksPerPiece = 4, SwarmOptions? options = null, int seed = 1) =>
        new((long)pieces * blocksPerPiece * Block, blocksPerPiece * Block, options ?? new SwarmOptions { RandomFirstPieces = 0 }, _time, new Random(seed));

    private static void Join(SwarmState s, PeerHandle peer, params int[] pieces)
    {
        s.AddPeer(peer);
        var bf = new Bitfield(s.PieceCount);
        foreach (int p in pieces) bf[p] = true;
        s.OnBitfield(peer, bf);
        s.OnUnchoked(peer);
    }

    private static void JoinSeed(SwarmState s, PeerHandle peer)
    {
        s.AddPeer(peer);
        s.OnHaveAll(peer);
        s.OnUnchoked(peer);
    }

    private static List<BlockRequest> Pick(SwarmState s, PeerHandle peer, int max)
    {
        var list = new List<BlockRequest>();
        s.PickRequests(peer, max, list);
        return list;
    }

    private static int[] PiecesOf(List<BlockRequest> reqs) => reqs.Select(r => r.Piece).Distinct().ToArray();

    /// <summary>Switch awareness: a peer behind another switch is asked only for what no peer of our own switch has.</summary>
    [Fact]
    public void A_remote_peer_is_asked_only_for_pieces_no_local_peer_has()
    {
        var s = NewState(4, options: new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.Zero });
        Join(s, A, 0, 1);
        s.AddPeer(B, remote: true);
        s.OnHaveAll(B);
        s.OnUnchoked(B);
        Assert.Equal(1, s.LocalAvailability(0));
        Assert.Equal(0, s.LocalAvailability(3));
        Assert.Equal(2, s.Availability(0));
        // From the remote seed: only pieces 2 and 3 (A, beside us, has 0 and 1).
        Assert.Equal([2, 3], PiecesOf(Pick(s, B, 100)).Order().ToArray());
        // The local peer leaves: its pieces may cross the uplink now.
        s.RemovePeer(A);
        Assert.Equal(0, s.LocalAvailability(0));
        Assert.Equal([0, 1], PiecesOf(Pick(s, B, 100)).Order().ToArray());
    }

    [Fact]
    public void Geometry_handles_short_last_piece()
    {
        var s = new SwarmState(3 * 65536 + 20000, 65536, time: _time);
        Assert.Equal(4, s.PieceCount);
        Assert.Equal(20000, s.LastPieceLength);
        Assert.Equal(2, s.BlockCount(3));
        JoinSeed(s, A);
        s.MarkHave(0); s.MarkHave(1); s.MarkHave(2);
        var reqs = Pick(s, A, 10);
        Assert.Equal([new BlockRequest(3, 0, Block), new BlockRequest(3, Block, 20000 - Block)], reqs);
    }

    [Fact]
    public void Rarest_first()
    {
        var s = NewState(4);
        Join(s, A, 0, 1, 2, 3);
        Join(s, B, 0, 1);
        Join(s, C, 0);
        // Availability: 0→3, 1→2, 2→1, 3→1: the two rarest in either order, then 1, then 0.
        var order = PiecesOf(Pick(s, A, 16));
        Assert.Equal([2, 3], order[..2].Order());
        Assert.Equal([1, 0], order[2..]);
    }

    [Fact]
    public void Full_ties_do_not_all_go_to_the_lowest_index()
    {
        // Peers asking the origin for "the rarest piece" must not all ask for the same one.
        var firsts = new HashSet<int>();
        for (int seed = 0; seed < 20; seed++)
        {
            var s = NewState(64, seed: seed);
            JoinSeed(s, A);
            firsts.Add(PiecesOf(Pick(s, A, 4)).Single());
        }
        Assert.True(firsts.Count >= 10, $"only {firsts.Count} distinct first pieces over 20 seeds");
    }

    [Fact]
    public void Availability_ties_prefer_pieces_next_to_ours()
    {
        var s = NewState(10);
        s.MarkHave(5);
        JoinSeed(s, A);
        // All equally rare: each new piece touches piece 5 or one already started, so they grow one run.
        var run = PiecesOf(Pick(s, A, 12)).Append(5).Order().ToArray();
        Assert.Equal(4, run.Length);
        Assert.Equal(Enumerable.Range(run[0], 4), run);
    }

    [Fact]
    public void Random_first_pieces_are_deterministic_for_a_seed_and_then_rarest_first_takes_over()
    {
        int[] Run(int seed)
        {
            var s = NewState(64, options: new SwarmOptions { RandomFirstPieces = 4 }, seed: seed);
            JoinSeed(s, A);
            return PiecesOf(Pick(s, A, 8));
        }
        var first = Run(42);
        Assert.Equal(first, Run(42));
        Assert.Equal(2, first.Length);
        Assert.NotEqual([0, 1], first); // random, not in order (holds for this seed)

        var st = NewState(8, options: new SwarmOptions { RandomFirstPieces = 2 }, seed: 3);
        JoinSeed(st, A);
        st.MarkHave(6); st.MarkHave(7);
        // Two pieces had: rarest first with locality → piece 5 next to 6.
        Assert.Equal([5], PiecesOf(Pick(st, A, 4)));
    }

    [Fact]
    public void Started_pieces_are_finished_before_new_ones()
    {
        var s = NewState(8);
        JoinSeed(s, A);
        JoinSeed(s, B);
        var a = Pick(s, A, 2);
        int first = PiecesOf(a).Single();
        var b = Pick(s, B, 3);
        // B first takes the two free blocks of A's piece, then starts another.
        Assert.Equal([new BlockRequest(first, 2 * Block, Block), new BlockRequest(first, 3 * Block, Block)], b[..2]);
        Assert.NotEqual(first, b[2].Piece);
        Assert.Equal(0, b[2].Begin);
    }

    [Fact]
    public void Never_requests_a_piece_the_peer_lacks_or_a_block_twice_outside_endgame()
    {
        var s = NewState(4);
        Join(s, A, 1);
        Join(s, B, 1, 2);
        var a = Pick(s, A, 100);
        Assert.All(a, r => Assert.Equal(1, r.Piece));
        Assert.Equal(4, a.Count);
        var b = Pick(s, B, 100);
        Assert.All(b, r => Assert.Equal(2, r.Piece));
        Assert.False(s.IsEndgame); // pieces 0 and 3 are unrequested (nobody has them)
    }

    [Fact]
    public void Endgame_allows_bounded_duplicates_and_reports_cancels()
    {
        var s = NewState(1, blocksPerPiece: 2);
        JoinSeed(s, A);
        JoinSeed(s, B);
        JoinSeed(s, C);
        Assert.Equal(2, Pick(s, A, 10).Count);
        Assert.True(s.IsEndgame);
        var dup = Pick(s, B, 10);
        Assert.Equal(2, dup.Count);
        Assert.Empty(Pick(s, C, 10)); // at most 2 requests per block
        Assert.Empty(Pick(s, A, 10)); // never twice to the same peer

        var cancels = new List<PeerHandle>();
        Assert.Equal(BlockReceivedStatus.Accepted, s.BlockReceived(A, dup[0], cancels));
        Assert.Equal([B], cancels);
        Assert.Equal(1, s.Outstanding(A));
        Assert.Equal(1, s.Outstanding(B));
        cancels.Clear();
        Assert.Equal(BlockReceivedStatus.Duplicate, s.BlockReceived(B, dup[0], cancels));
        Assert.Equal(BlockReceivedStatus.PieceComplete, s.BlockReceived(B, dup[1], cancels));
        Assert.Equal([A], cancels);
        Assert.Equal(0, s.Outstanding(A) + s.Outstanding(B));
    }

    [Fact]
    public void Invalid_and_unrequested_blocks_are_classified()
    {
        var s = NewState(2);
        JoinSeed(s, A);
        var cancels = new List<PeerHandle>();
        Assert.Equal(BlockReceivedStatus.Invalid, s.BlockReceived(A, new BlockRequest(0, 100, Block), cancels));
        Assert.Equal(BlockReceivedStatus.Invalid, s.BlockReceived(A, new BlockRequest(0, 0, 10), cancels));
        Assert.Equal(BlockReceivedStatus.Invalid, s.BlockReceived(A, new BlockRequest(7, 0, Block), cancels));
        Assert.Equal(BlockReceivedStatus.Unrequested, s.BlockReceived(A, new BlockRequest(1, 0, Block), cancels));
    }

    [Fact]
    public void Timed_out_requests_are_released_for_other_peers()
    {
        var s = NewState(1, options: new SwarmOptions { RandomFirstPieces = 0, RequestTimeout = TimeSpan.FromSeconds(5) });
        JoinSeed(s, A);
        JoinSeed(s, B);
        var a = Pick(s, A, 4);
        var timedOut = new List<PeerBlock>();
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(0, s.Tick(timedOut));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(4, s.Tick(timedOut));
        Assert.All(timedOut, t => Assert.Equal(A, t.Peer));
        Assert.Equal(0, s.Outstanding(A));
        Assert.Equal(a, Pick(s, B, 4));
        // A late answer from A still counts, and B is told to cancel.
        var cancels = new List<PeerHandle>();
        Assert.Equal(BlockReceivedStatus.Accepted, s.BlockReceived(A, a[0], cancels));
        Assert.Equal([B], cancels);
    }

    [Fact]
    public void Peer_silent_for_the_snub_timeout_is_snubbed_until_it_delivers()
    {
        var s = NewState(4, options: new SwarmOptions { RandomFirstPieces = 0, RequestTimeout = TimeSpan.FromSeconds(20) });
        JoinSeed(s, A);
        Assert.Equal(8, Pick(s, A, 8).Count);
        var timedOut = new List<PeerBlock>();
        _time.Advance(TimeSpan.FromSeconds(30));
        s.Tick(timedOut);
        Assert.False(s.IsSnubbed(A));
        Assert.Equal(8, Pick(s, A, 8).Count); // released requests are handed out again, still not snubbed
        _time.Advance(TimeSpan.FromSeconds(30));
        s.Tick(timedOut);
        Assert.True(s.IsSnubbed(A)); // 60 s owing data without delivering
        Assert.Equal(1, s.PipelineDepth(A));
        var one = Assert.Single(Pick(s, A, 8));
        Assert.Empty(Pick(s, A, 8)); // one outstanding at most
        Assert.Equal(BlockReceivedStatus.Accepted, s.BlockReceived(A, one, []));
        Assert.False(s.IsSnubbed(A));
    }

    [Fact]
    public void Sole_contributor_of_repeated_bad_pieces_is_banned()
    {
        var s = NewState(4, options: new SwarmOptions { RandomFirstPieces = 0, BanAfterSoleFailures = 2, RejectBackoff = TimeSpan.FromSeconds(10) });
        JoinSeed(s, A);
        JoinSeed(s, B);
        var banned = new List<PeerHandle>();

        void DeliverPiece(PeerHandle peer)
        {
            var reqs = Pick(s, peer, 4);
            Assert.Single(PiecesOf(reqs));
            BlockReceivedStatus last = default;
            foreach (var r in reqs) last = s.BlockReceived(peer, r, []);
            Assert.Equal(BlockReceivedStatus.PieceComplete, last);
            s.PieceHashFailed(reqs[0].Piece, banned);
        }

        DeliverPiece(A);
        Assert.Empty(banned);
        // The bad piece is backed off for A, so B is asked for it first.
        var b = Pick(s, B, 4);
        Assert.Equal([0], PiecesOf(b));
        DeliverPiece(A); // piece 1
        Assert.Equal([A], banned);
        Assert.True(s.IsBanned(A));
        Assert.Empty(Pick(s, A, 4));
        Assert.Equal(0, s.Outstanding(A));
    }

    [Fact]
    public void Failed_piece_with_several_contributors_bans_nobody_and_is_refetched()
    {
        var s = NewState(1, options: new SwarmOptions { RandomFirstPieces = 0, BanAfterSoleFailures = 1 });
        JoinSeed(s, A);
        JoinSeed(s, B);
        var a = Pick(s, A, 2);
        var b = Pick(s, B, 2);
        foreach (var r in a) s.BlockReceived(A, r, []);
        foreach (var r in b) s.BlockReceived(B, r, []);
        var banned = new List<PeerHandle>();
        s.PieceHashFailed(0, banned);
        Assert.Empty(banned);
        Assert.False(s.IsEndgame);
        Assert.Equal(4, Pick(s, A, 4).Count);
    }

    [Fact]
    public void Removing_a_peer_releases_its_requests_and_availability()
    {
        var s = NewState(2);
        JoinSeed(s, A);
        Join(s, B, 0);
        Assert.Equal(2, s.Availability(0));
        var a = Pick(s, A, 4);
        Assert.Equal([1], PiecesOf(a)); // rarest
        s.RemovePeer(A);
        Assert.Equal(1, s.Availability(0));
        Assert.Equal(0, s.Availability(1));
        JoinSeed(s, C);
        Assert.Equal(a, Pick(s, C, 4)); // the started piece is free again and finished first
    }

    [Fact]
    public void A_rejected_run_releases_each_of_its_blocks_and_only_runs_on_the_grid_count()
    {
        var s = NewState(4);
        JoinSeed(s, A);
        var a = Pick(s, A, 8); // two whole pieces, four blocks each
        int first = a[0].Piece, second = a[4].Piece;
        Assert.Equal(8, s.Outstanding(A));
        // A long request covered blocks 1-3 of the first piece; the peer rejects the run as a whole.
        s.OnRejected(A, new BlockRequest(first, Block, 3 * Block));
        Assert.Equal(5, s.Outstanding(A));
        // Off the grid (not block aligned, or running past the piece): only the back-off applies.
        s.OnRejected(A, new BlockRequest(second, 100, 2 * Block));
        s.OnRejected(A, new BlockRequest(second, 2 * Block, 3 * Block));
        Assert.Equal(5, s.Outstanding(A));

        Assert.True(s.IsRunOnGrid(new BlockRequest(0, 0, 4 * Block)));
        Assert.True(s.IsRunOnGrid(new BlockRequest(0, 2 * Block, Block)));
        Assert.False(s.IsRunOnGrid(new BlockRequest(0, 0, Block + 1)));
        Assert.False(s.IsRunOnGrid(new BlockRequest(0, 0, 5 * Block)));
        Assert.False(s.IsRunOnGrid(new BlockRequest(0, Block / 2, Block)));
        Assert.False(s.IsRunOnGrid(new BlockRequest(4, 0, Block)));
        Assert.False(s.IsRunOnGrid(new BlockRequest(0, 0, 0)));
    }

    [Fact]
    public void Choke_releases_requests_except_allowed_fast_and_reject_backs_off()
    {
        var s = NewState(4);
        JoinSeed(s, A);
        s.OnAllowedFast(A, 1);
        var a = Pick(s, A, 8); // pieces 0 and 1
        Assert.Equal([0, 1], PiecesOf(a));
        s.OnChoked(A);
        Assert.Equal(4, s.Outstanding(A)); // piece 1 is allowed-fast: still served while choked
        // While choked only allowed-fast pieces may be asked for; piece 1 is all requested already.
        Assert.Empty(Pick(s, A, 8));
        s.OnUnchoked(A);
        s.OnRejected(A, a[4]); // a block of piece 1
        Assert.Equal(3, s.Outstanding(A));
        var again = Pick(s, A, 5);
        Assert.DoesNotContain(again, r => r.Piece == 1); // backed off
        Assert.Contains(again, r => r.Piece == 0);
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Contains(new BlockRequest(1, 0, Block), Pick(s, B0(s), 1));
    }

    // A second peer for the last step of the test above.
    private static PeerHandle B0(SwarmState s)
    {
        JoinSeed(s, B);
        return B;
    }

    [Fact]
    public void Pipeline_depth_starts_generous_and_follows_the_rate()
    {
        var p = new RequestPipeline();
        Assert.Equal(64, p.DepthFor(null));
        Assert.Equal(16, p.DepthFor(0));
        Assert.Equal(64, p.DepthFor(256 * Block)); // 250 ms worth of 4 MiB/s
        Assert.Equal(1024, p.DepthFor(1.25e9)); // 10 GbE is capped
        Assert.Equal(32, new RequestPipeline { TargetLatency = TimeSpan.FromSeconds(2) }.DepthFor(16 * Block));
    }

    [Fact]
    public void Pipeline_limits_outstanding_requests_per_peer()
    {
        var s = NewState(1000);
        JoinSeed(s, A);
        Assert.Equal(64, Pick(s, A, int.MaxValue).Count);
        Assert.Empty(Pick(s, A, int.MaxValue));
    }
}
