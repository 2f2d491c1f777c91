using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class ChokerTests
{
    private readonly FakeTimeProvider _time = new();

    private static ChokerPeer P(int id, bool interested = true, double rate = 0) => new(new PeerHandle(id), interested, rate);

    private static int[] Decide(Choker c, bool seeding, params ChokerPeer[] peers)
    {
        var list = new List<PeerHandle>();
        c.Decide(peers, seeding, list);
        return list.Select(p => p.Value).Order().ToArray();
    }

    [Fact]
    public void Unchokes_every_interested_peer_while_slots_last()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 4 }, _time, new Random(1));
        Assert.Equal([1, 2, 4], Decide(c, false, P(1), P(2), P(3, interested: false), P(4)));
        Assert.Null(c.OptimisticPeer);
    }

    [Fact]
    public void Leeching_prefers_uploaders_and_rotates_one_optimistic_slot()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 3, OptimisticInterval = TimeSpan.FromSeconds(30) }, _time, new Random(5));
        var peers = new[] { P(1, rate: 10), P(2, rate: 500), P(3, rate: 300), P(4), P(5), P(6) };
        var first = Decide(c, false, peers);
        Assert.Contains(2, first);
        Assert.Contains(3, first);
        var opt = c.OptimisticPeer!.Value.Value;
        Assert.Contains(opt, new[] { 1, 4, 5, 6 });
        Assert.Equal(3, first.Length);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(first, Decide(c, false, peers)); // optimistic slot kept within its interval

        var seen = new HashSet<int> { opt };
        for (int i = 0; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            Decide(c, false, peers);
            seen.Add(c.OptimisticPeer!.Value.Value);
        }
        Assert.True(seen.Count >= 3, $"optimistic unchoke should rotate, saw {string.Join(",", seen)}");
    }

    [Fact]
    public void Optimistic_choice_is_deterministic_for_a_seed()
    {
        PeerHandle? Run()
        {
            var c = new Choker(new ChokerOptions { UnchokeSlots = 2 }, new FakeTimeProvider(), new Random(99));
            c.Decide([P(1), P(2), P(3), P(4), P(5)], false, []);
            return c.OptimisticPeer;
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Seeding_rotates_round_robin_to_the_least_recently_served()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2, SeedRotationInterval = TimeSpan.FromSeconds(30) }, _time, new Random(1));
        var peers = new[] { P(1, rate: 1000), P(2), P(3), P(4), P(5) };
        Assert.Equal([1, 2], Decide(c, true, peers)); // never served: by id
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([1, 2], Decide(c, true, peers)); // still their turn
        _time.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal([3, 4], Decide(c, true, peers)); // turn over: the waiting ones
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([1, 5], Decide(c, true, peers)); // 5 never served; 1 and 2 served equally long ago → lower id
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([2, 3], Decide(c, true, peers));
    }

    [Fact]
    public void Departed_peers_are_forgotten()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2 }, _time, new Random(1));
        Decide(c, true, P(1), P(2), P(3));
        Assert.True(c.IsUnchoked(new PeerHandle(1)));
        Assert.Equal([3], Decide(c, true, P(3)));
        Assert.False(c.IsUnchoked(new PeerHandle(1)));
    }
}
