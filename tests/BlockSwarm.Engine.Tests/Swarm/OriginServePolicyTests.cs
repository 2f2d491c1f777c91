using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class OriginServePolicyTests
{
    private static readonly PeerId A = new(1), B = new(2), C = new(3);

    private static (SwarmState Origin, OriginServePolicy Policy) NewOrigin(int pieces)
    {
        var origin = new SwarmState((long)pieces * SwarmOptions.BlockSize, SwarmOptions.BlockSize, time: new FakeTimeProvider(), random: new Random(1));
        origin.MarkHaveAll();
        foreach (var p in new[] { A, B, C }) origin.AddPeer(p);
        return (origin, new OriginServePolicy(origin));
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
        origin.AddPeer(new PeerId(9));
        origin.OnHave(new PeerId(9), 0);
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
