using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class SuperSeederTests
{
    private static readonly PeerHandle A = new(1), B = new(2), C = new(3);

    private static SwarmState Origin(int pieces)
    {
        var s = new SwarmState((long)pieces * SwarmOptions.BlockSize, SwarmOptions.BlockSize, time: new FakeTimeProvider(), random: new Random(1));
        s.MarkHaveAll();
        foreach (var p in new[] { A, B, C }) s.AddPeer(p);
        return s;
    }

    [Fact]
    public void Offers_distinct_pieces_and_the_next_only_after_the_last_was_passed_on()
    {
        var swarm = Origin(4);
        var seeder = new SuperSeeder(swarm, new Random(7));
        int a = seeder.NextOffer(A), b = seeder.NextOffer(B), c = seeder.NextOffer(C);
        Assert.Equal(3, new[] { a, b, c }.Distinct().Count());

        swarm.OnHave(A, a);
        Assert.Equal(-1, seeder.NextOffer(A)); // A has it, but nobody else yet
        Assert.Equal(a, seeder.OfferOf(A));
        swarm.OnHave(B, a); // B got it from A
        int next = seeder.NextOffer(A);
        Assert.NotEqual(-1, next);
        Assert.NotEqual(a, next);
        Assert.NotEqual(c, next); // offered to C already: rarest is the fourth piece
        Assert.NotEqual(b, next);
    }

    [Fact]
    public void Departed_peer_frees_its_offer()
    {
        var swarm = Origin(1);
        var seeder = new SuperSeeder(swarm, new Random(1));
        Assert.Equal(0, seeder.NextOffer(A));
        seeder.RemovePeer(A);
        swarm.RemovePeer(A);
        Assert.Equal(0, seeder.NextOffer(B));
        Assert.Equal(-1, seeder.OfferOf(A));
    }
}
