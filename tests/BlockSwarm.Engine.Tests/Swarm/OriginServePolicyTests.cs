using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class OriginServePolicyTests
{
    private static readonly PeerHandle A = new(1), B = new(2), C = new(3);

    private readonly FakeTimeProvider _time = new();

    private (SwarmState Origin, OriginServePolicy Policy) NewOrigin(int pieces)
    {
        var origin = new SwarmState((long)pieces * SwarmOptions.BlockSize, SwarmOptions.BlockSize, time: _time, random: new Random(1));
        origin.MarkHaveAll();
        foreach (var p in new[] { A, B, C }) origin.AddPeer(p);
        return (origin, new OriginServePolicy(origin, _time));
    }

    [Fact]
    public void Peer_refused_without_progress_elsewhere_is_served_after_the_starvation_timeout()
    {
        var (_, policy) = NewOrigin(4);
        Assert.True(policy.ShouldServe(A, 0));
        Assert.False(policy.ShouldServe(B, 0)); // first refusal starts B's clock
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(policy.ShouldServe(B, 0));
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.True(policy.ShouldServe(B, 0)); // B cannot get it elsewhere, it seems: serve the duplicate
        Assert.Equal(2, policy.Copies(0));
    }

    [Fact]
    public void Peer_completing_pieces_from_others_is_not_starving_however_long_it_is_refused()
    {
        var (origin, policy) = NewOrigin(8);
        Assert.True(policy.ShouldServe(A, 0));
        Assert.False(policy.ShouldServe(B, 0));
        for (int p = 1; p <= 5; p++)
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            origin.OnHave(B, p); // B keeps finishing pieces it got from other peers
            Assert.False(policy.ShouldServe(B, 0)); // so it gets piece 0 from A too
        }
        Assert.Equal(1, policy.Copies(0));
        _time.Advance(TimeSpan.FromSeconds(3)); // now it stalls
        Assert.True(policy.ShouldServe(B, 0));
    }

    [Fact]
    public void Second_copy_is_rejected_while_unsent_pieces_remain()
    {
        var (_, policy) = NewOrigin(3);
        Assert.True(policy.ShouldServe(A, 0));
        Assert.True(policy.ShouldServe(A, 0)); // a grant covers all blocks of the piece
        Assert.False(policy.ShouldServe(B, 0)); // A is receiving it: get it from A
        Assert.True(policy.ShouldServe(B, 1));
        Assert.Equal(1, policy.UnsentPieces);
        Assert.True(policy.ShouldServe(C, 2));
        Assert.Equal(0, policy.UnsentPieces);
        Assert.True(policy.ShouldServe(B, 0)); // every piece went out once: serve normally
        Assert.Equal(2, policy.Copies(0));
    }

    [Fact]
    public void Piece_whose_only_receiver_left_is_served_again()
    {
        var (origin, policy) = NewOrigin(3);
        Assert.True(policy.ShouldServe(A, 0));
        policy.RemovePeer(A);
        origin.RemovePeer(A);
        Assert.True(policy.ShouldServe(B, 0)); // nobody has it and nobody is getting it
    }

    [Fact]
    public void Piece_a_peer_has_is_rejected_even_without_a_live_grant()
    {
        var (origin, policy) = NewOrigin(3);
        Assert.True(policy.ShouldServe(A, 0));
        origin.OnHave(A, 0);
        policy.RemovePeer(A); // grant gone, but another peer C announced the piece
        origin.AddPeer(new PeerHandle(9));
        origin.OnHave(new PeerHandle(9), 0);
        origin.RemovePeer(A);
        Assert.False(policy.ShouldServe(B, 0));
    }

    [Fact]
    public void Inactive_policy_serves_everything_and_counts_bytes()
    {
        var (_, policy) = NewOrigin(2);
        policy.Active = false;
        Assert.True(policy.ShouldServe(A, 0));
        Assert.True(policy.ShouldServe(B, 0));
        policy.OnBlockSent(SwarmOptions.BlockSize);
        policy.OnBlockSent(SwarmOptions.BlockSize / 2);
        Assert.Equal(1.5, policy.PieceCopiesSent);
    }
}
