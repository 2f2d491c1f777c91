using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

/// <summary>
/// Switch awareness in the swarm state: which pieces a peer fetches from behind another switch (its rendezvous share,
/// what local peers said they import, the grace), and which remote peers it is interested in.
/// </summary>
public sealed class SwarmImportTests
{
    private const int Block = SwarmOptions.BlockSize;
    private static readonly PeerHandle Remote = new(100);

    private readonly FakeTimeProvider _time = new();

    private static byte[] Id(int n)
    {
        var id = PeerId.Create(new Random(n));
        return id;
    }

    private SwarmState NewState(byte[] ownId, int pieces = 64, TimeSpan? grace = null) =>
        new((long)pieces * Block, Block, new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = grace ?? TimeSpan.FromSeconds(2) }, _time, new Random(1))
        {
            RendezvousKey = SwarmState.RendezvousKeyOf(ownId),
        };

    private static void AddRemoteSeed(SwarmState s)
    {
        s.AddPeer(Remote, remote: true);
        s.OnHaveAll(Remote);
        s.OnUnchoked(Remote);
    }

    private static int[] PickedPieces(SwarmState s, PeerHandle peer)
    {
        var list = new List<BlockRequest>();
        s.PickRequests(peer, 10_000, list);
        return [.. list.Select(r => r.Piece).Distinct().Order()];
    }

    /// <summary>
    /// Eight peers of one switch, each connected to the other seven and to a remote seed: every piece is fetched across
    /// the uplink by exactly one of them at first (they agree by their peer ids), and each takes about an eighth.
    /// </summary>
    [Fact]
    public void The_peers_of_a_switch_split_the_imports_between_them_without_overlap()
    {
        var ids = Enumerable.Range(1, 8).Select(Id).ToArray();
        var claimed = new List<int[]>();
        for (int me = 0; me < ids.Length; me++)
        {
            var s = NewState(ids[me], pieces: 256);
            for (int other = 0; other < ids.Length; other++)
                if (other != me) s.AddPeer(new PeerHandle(other + 1), remote: false, SwarmState.RendezvousKeyOf(ids[other]));
            AddRemoteSeed(s);
            claimed.Add(PickedPieces(s, Remote));
        }
        var all = claimed.SelectMany(c => c).ToArray();
        Assert.Equal(256, all.Length);             // no piece claimed twice
        Assert.Equal(256, all.Distinct().Count()); // every piece claimed once
        Assert.All(claimed, c => Assert.InRange(c.Length, 8, 64)); // about 256 / 8 each
    }

    [Fact]
    public void A_leaving_peer_hands_its_share_of_the_imports_back()
    {
        var me = Id(1);
        var s = NewState(me, grace: TimeSpan.FromSeconds(2));
        var local = new PeerHandle(1);
        s.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        AddRemoteSeed(s);
        var mine = PickedPieces(s, Remote);
        Assert.InRange(mine.Length, 8, 56); // about half of 64

        // The other local peer leaves: what it would have imported is ours now, at once.
        s.RemovePeer(local);
        var handedBack = PickedPieces(s, Remote);
        Assert.Equal(64, mine.Length + handedBack.Length);
        Assert.Empty(mine.Intersect(handedBack));
    }

    [Fact]
    public void Pieces_nobody_imports_are_open_to_all_after_the_grace()
    {
        var s = NewState(Id(1), grace: TimeSpan.FromSeconds(2));
        s.AddPeer(new PeerHandle(1), remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        AddRemoteSeed(s);
        var mine = PickedPieces(s, Remote);
        _time.Advance(TimeSpan.FromSeconds(2));
        var rest = PickedPieces(s, Remote);
        Assert.Equal(64, mine.Length + rest.Length);
    }

    /// <summary>A local peer that is not BlockSwarm (no key) takes no share: it would never import what it was left.</summary>
    [Fact]
    public void A_local_peer_without_a_key_takes_no_share()
    {
        var s = NewState(Id(1));
        s.AddPeer(new PeerHandle(1), remote: false, rendezvousKey: 0);
        AddRemoteSeed(s);
        Assert.Equal(64, PickedPieces(s, Remote).Length);
    }

    /// <summary>
    /// bs_import: a piece a local peer said it fetches across the uplink is left to it, even one that is ours by
    /// rendezvous and after the grace, until the intent times out; and when that peer leaves, at once.
    /// </summary>
    [Fact]
    public void A_piece_a_local_peer_imports_is_left_to_it_until_the_intent_times_out_or_it_leaves()
    {
        var options = new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.Zero, ImportIntentTimeout = TimeSpan.FromSeconds(5) };
        var s = new SwarmState(8L * Block, Block, options, _time, new Random(1)) { RendezvousKey = SwarmState.RendezvousKeyOf(Id(1)) };
        var local = new PeerHandle(1);
        s.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        s.OnImporting(local, 3);
        s.OnImporting(local, 5);
        AddRemoteSeed(s);
        Assert.Equal([0, 1, 2, 4, 6, 7], PickedPieces(s, Remote));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([3, 5], PickedPieces(s, Remote));

        var t = new SwarmState(8L * Block, Block, options, _time, new Random(1)) { RendezvousKey = SwarmState.RendezvousKeyOf(Id(1)) };
        t.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        t.OnImporting(local, 3);
        AddRemoteSeed(t);
        Assert.DoesNotContain(3, PickedPieces(t, Remote));
        t.RemovePeer(local);
        Assert.Equal([3], PickedPieces(t, Remote));
    }

    /// <summary>A local peer that says again and again that it imports a piece (and never gets it) delays us once only.</summary>
    [Fact]
    public void Saying_it_imports_a_piece_again_does_not_extend_the_wait()
    {
        var options = new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.Zero, ImportIntentTimeout = TimeSpan.FromSeconds(5) };
        var s = new SwarmState(2L * Block, Block, options, _time, new Random(1)) { RendezvousKey = SwarmState.RendezvousKeyOf(Id(1)) };
        var local = new PeerHandle(1);
        s.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        s.OnImporting(local, 1);
        AddRemoteSeed(s);
        Assert.Equal([0], PickedPieces(s, Remote));
        _time.Advance(TimeSpan.FromSeconds(4));
        s.OnImporting(local, 1);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([1], PickedPieces(s, Remote));
        Assert.Equal(1, s.ImportsHeard);
    }

    [Fact]
    public void A_remote_peers_claim_and_nonsense_piece_numbers_are_ignored()
    {
        var options = new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.Zero };
        var s = new SwarmState(4L * Block, Block, options, _time, new Random(1)) { RendezvousKey = SwarmState.RendezvousKeyOf(Id(1)) };
        AddRemoteSeed(s);
        s.OnImporting(Remote, 2);         // another switch's import is not ours to respect
        s.OnImporting(new PeerHandle(9), 1); // not a peer of ours
        s.OnImporting(Remote, 99);
        Assert.Equal([0, 1, 2, 3], PickedPieces(s, Remote));
    }

    /// <summary>What we ask a remote peer for is what we tell the local peers we import: each piece once.</summary>
    [Fact]
    public void Pieces_requested_across_the_uplink_are_announced_once_each()
    {
        var s = NewState(Id(1), pieces: 8, grace: TimeSpan.Zero);
        var local = new PeerHandle(1);
        s.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        var bf = new Bitfield(8);
        bf[0] = true;
        s.OnBitfield(local, bf);
        s.OnUnchoked(local);
        AddRemoteSeed(s);
        var fromLocal = PickedPieces(s, local);
        var fromRemote = PickedPieces(s, Remote);
        Assert.Equal([0], fromLocal);
        Assert.Equal(fromRemote, s.TakeImportsToAnnounce().Order());
        Assert.Empty(s.TakeImportsToAnnounce());
    }

    /// <summary>
    /// We are interested in a remote peer only for what we would ask it for: not for pieces a local peer has, nor for
    /// pieces another local peer imports, so the remote side's choker sees only the peers whose upload crosses in.
    /// </summary>
    [Fact]
    public void A_remote_peer_is_interesting_only_for_what_we_would_fetch_from_it()
    {
        var options = new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.FromSeconds(2) };
        var s = new SwarmState(2L * Block, Block, options, _time, new Random(1)) { RendezvousKey = SwarmState.RendezvousKeyOf(Id(1)) };
        var local = new PeerHandle(1);
        s.AddPeer(local, remote: false, SwarmState.RendezvousKeyOf(Id(2)));
        var bf = new Bitfield(2);
        bf[0] = true;
        s.OnBitfield(local, bf);
        s.OnImporting(local, 1);
        s.AddPeer(Remote, remote: true);
        Assert.False(s.OnHaveAll(Remote)); // piece 0 is here already, piece 1 is being imported by the local peer
        Assert.False(s.IsInteresting(Remote));
        Assert.True(s.IsInteresting(local));
        _time.Advance(options.ImportIntentTimeout);
        Assert.True(s.IsInteresting(Remote)); // the local peer's import timed out (and the grace is over)
    }
}

public sealed class ImportMessageTests
{
    [Fact]
    public void Round_trip()
    {
        int[] pieces = [0, 7, 999];
        var payload = ImportMessage.Encode(pieces);
        Assert.Equal("00000000" + "00000007" + "000003e7", Convert.ToHexStringLower(payload));
        Assert.Equal(pieces, ImportMessage.Decode(new System.Buffers.ReadOnlySequence<byte>(payload), 1000));
    }

    [Theory]
    [InlineData("", "0 bytes")]
    [InlineData("000000", "3 bytes")]
    [InlineData("000003e8", "piece 1000")]
    [InlineData("ffffffff", "piece -1")]
    public void Malformed_messages_are_protocol_errors(string hex, string why)
    {
        var ex = Assert.Throws<PeerProtocolException>(() => ImportMessage.Decode(new System.Buffers.ReadOnlySequence<byte>(Convert.FromHexString(hex)), 1000));
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public void Too_many_pieces_in_one_message_are_refused()
    {
        var payload = new byte[(ImportMessage.MaxPieces + 1) * 4];
        Assert.Throws<PeerProtocolException>(() => ImportMessage.Decode(new System.Buffers.ReadOnlySequence<byte>(payload), 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImportMessage.Encode(new int[ImportMessage.MaxPieces + 1]));
    }
}

public sealed class UplinkCancelTests
{
    private const int Block = SwarmOptions.BlockSize;
    private static readonly PeerHandle Local = new(1), Remote = new(100);
    private readonly FakeTimeProvider _time = new();

    /// <summary>
    /// We asked a remote peer for a piece; then a peer of our own switch announces it: the blocks not yet received are
    /// released from the remote peer and listed for CANCEL, and the local peer is asked for them instead.
    /// </summary>
    [Fact]
    public void A_local_HAVE_releases_what_we_asked_across_the_uplink_for_that_piece()
    {
        var s = new SwarmState(2L * 4 * Block, 4 * Block, new SwarmOptions { RandomFirstPieces = 0, RemoteClaimGrace = TimeSpan.Zero }, _time, new Random(1))
        {
            RendezvousKey = 7,
        };
        s.AddPeer(Local, remote: false, rendezvousKey: 0);
        s.OnHaveNone(Local);
        s.OnUnchoked(Local);
        s.AddPeer(Remote, remote: true);
        s.OnHaveAll(Remote);
        s.OnUnchoked(Remote);
        var asked = new List<BlockRequest>();
        s.PickRequests(Remote, 10, asked);
        Assert.Equal(8, asked.Count); // both pieces, 4 blocks each
        var first = s.BlockReceived(Remote, asked[0], []);
        Assert.Equal(BlockReceivedStatus.Accepted, first);
        int piece = asked[0].Piece;

        Assert.True(s.OnHave(Local, piece));
        // The three blocks of that piece still owed by the remote peer; nothing of the other piece.
        Assert.Equal(asked.Skip(1).Where(b => b.Piece == piece).Select(b => new PeerBlock(Remote, b)), s.TakeUplinkCancels());
        Assert.Empty(s.TakeUplinkCancels());

        var fromLocal = new List<BlockRequest>();
        s.PickRequests(Local, 10, fromLocal);
        Assert.Equal(asked.Skip(1).Where(b => b.Piece == piece), fromLocal);
        // A second local peer with the piece changes nothing more.
        var other = new PeerHandle(2);
        s.AddPeer(other, remote: false, rendezvousKey: 0);
        s.OnHave(other, piece);
        Assert.Empty(s.TakeUplinkCancels());
    }

    [Fact]
    public void Released_blocks_are_cancelled_as_the_runs_they_were_asked_in()
    {
        const int Run = 4 * Block; // bs_reqlen 64 KiB
        PeerHandle a = new(1), b = new(2);
        var released = new List<PeerBlock>();
        // Peer a: blocks 0-5 of piece 3 (runs [0, 4) and [4, 6)), block 9 alone; peer b: blocks 2-3 of piece 3.
        foreach (int blk in new[] { 5, 0, 1, 2, 3, 4, 9 }) released.Add(new PeerBlock(a, new BlockRequest(3, blk * Block, Block)));
        foreach (int blk in new[] { 3, 2 }) released.Add(new PeerBlock(b, new BlockRequest(3, blk * Block, Block)));
        var runs = new List<PeerBlock>();
        BlockSwarm.Engine.Session.PeerSession.CancelRuns([.. released], peer => peer == a ? Run : Block, runs);
        Assert.Equal(
        [
            new PeerBlock(a, new BlockRequest(3, 0, Run)),
            new PeerBlock(a, new BlockRequest(3, 4 * Block, 2 * Block)),
            new PeerBlock(a, new BlockRequest(3, 9 * Block, Block)),
            new PeerBlock(b, new BlockRequest(3, 2 * Block, Block)),
            new PeerBlock(b, new BlockRequest(3, 3 * Block, Block)),
        ], runs);
    }
}
