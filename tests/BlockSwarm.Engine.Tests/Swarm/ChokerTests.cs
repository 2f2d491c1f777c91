using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class ChokerTests
{
    private readonly FakeTimeProvider _time = new();

    private static ChokerPeer P(int id, bool interested = true, int pieces = 0) => new(new PeerHandle(id), interested, pieces);

    private static int[] Decide(Choker c, params ChokerPeer[] peers)
    {
        var list = new List<PeerHandle>();
        c.Decide(peers, seeding: false, list, uploaded: 0);
        return list.Select(p => p.Value).Order().ToArray();
    }

    [Fact]
    public void Unchokes_every_interested_peer_in_a_small_room()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 4 }, _time, new Random(1));
        Assert.Equal([1, 2, 4, 5], Decide(c, P(1), P(2), P(3, interested: false), P(4), P(5)));
        Assert.Null(c.OptimisticPeer);
    }

    [Fact]
    public void A_seed_unchokes_everyone_in_a_larger_room_than_a_leecher_does()
    {
        var options = new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 3, SeedUnchokeAllUpTo = 5 };
        var peers = Enumerable.Range(1, 5).Select(i => P(i, pieces: i)).ToArray();
        Assert.Equal([1, 2, 3, 4, 5], DecideAs(new Choker(options, _time, new Random(1)), seeding: true, peers));
        Assert.Equal(2, DecideAs(new Choker(options, _time, new Random(1)), seeding: false, peers).Length);
    }

    private static int[] DecideAs(Choker c, bool seeding, ChokerPeer[] peers)
    {
        var list = new List<PeerHandle>();
        c.Decide(peers, seeding, list, uploaded: 0);
        return list.Select(p => p.Value).Order().ToArray();
    }

    [Fact]
    public void Past_the_small_room_the_slots_go_to_the_peers_furthest_behind_and_one_optimistic()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 3, UnchokeAllUpTo = 4, OptimisticInterval = TimeSpan.FromSeconds(30) }, _time, new Random(5));
        var peers = new[] { P(1, pieces: 900), P(2, pieces: 10), P(3, pieces: 40), P(4, pieces: 500), P(5, pieces: 700), P(6, pieces: 800) };
        var first = Decide(c, peers);
        Assert.Equal(3, first.Length);
        Assert.Contains(2, first);
        Assert.Contains(3, first);
        var opt = c.OptimisticPeer!.Value.Value;
        Assert.Contains(opt, new[] { 1, 4, 5, 6 });

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(first, Decide(c, peers)); // the optimistic slot is kept within its interval

        // Peer 2 caught up: peer 4 is now among the furthest behind.
        peers[1] = P(2, pieces: 950);
        var second = Decide(c, peers);
        Assert.Contains(3, second);
        Assert.Contains(4, second);
        Assert.DoesNotContain(2, second);

        var seen = new HashSet<int> { opt };
        for (int i = 0; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            Decide(c, peers);
            seen.Add(c.OptimisticPeer!.Value.Value);
        }
        Assert.True(seen.Count >= 3, $"the optimistic unchoke should rotate, saw {string.Join(",", seen)}");
    }

    /// <summary>
    /// Among equals nobody is everyone's last: each choker orders them its own random way, not by connection order, which
    /// every choker would share (a client that connected last to everyone was choked by nearly all of them).
    /// </summary>
    [Fact]
    public void Equal_peers_are_ordered_at_random_per_choker_not_by_connection()
    {
        var peers = Enumerable.Range(1, 10).Select(i => P(i)).ToArray();
        var firstRegular = new HashSet<int>();
        for (int seed = 0; seed < 20; seed++)
        {
            var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 0, SeedUnchokeAllUpTo = 0 }, _time, new Random(seed));
            var chosen = Decide(c, peers);
            firstRegular.Add(chosen.Single(p => p != c.OptimisticPeer!.Value.Value));
        }
        Assert.True(firstRegular.Count >= 5, $"20 chokers chose only {string.Join(",", firstRegular)} among 10 equal peers");
    }

    [Fact]
    public void Upload_rate_plays_no_part_and_equal_progress_goes_to_the_least_recently_served()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 0, SeedUnchokeAllUpTo = 0 }, _time, new Random(1));
        // Everyone at the start: equal progress. Served: one by this choker's own random order, and one optimistic among the rest.
        var peers = new[] { P(1), P(2), P(3), P(4), P(5) };
        var first = Decide(c, peers);
        int optimistic = c.OptimisticPeer!.Value.Value;
        int regular = first.Single(p => p != optimistic);
        _time.Advance(TimeSpan.FromSeconds(5));
        // Still equal: the peers never served come before the regular one, which was served until now.
        var second = Decide(c, peers);
        Assert.DoesNotContain(regular, second);
        Assert.Contains(optimistic, second);
    }

    /// <summary>
    /// Every peer ranks the same peers furthest behind; their downlinks fill and our slots to them drain slowly. The
    /// choker then gives more slots while our upload is short of the best rate it has shown, and takes them back one a
    /// second once it is full again.
    /// </summary>
    [Fact]
    public void Slots_grow_while_the_upload_is_short_and_shrink_back_when_it_is_full()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 0, SeedUnchokeAllUpTo = 0 }, _time, new Random(1));
        var peers = Enumerable.Range(1, 10).Select(i => P(i, pieces: i * 10)).ToArray();
        long uploaded = 0;
        int Step(long bytesThisSecond)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            uploaded += bytesThisSecond;
            var list = new List<PeerHandle>();
            c.Decide(peers, seeding: false, list, uploaded);
            return list.Count;
        }
        Assert.Equal(2, Step(0));               // the first sample
        Assert.Equal(2, Step(1_000_000));       // full: the best rate so far
        Assert.Equal(3, Step(200_000));         // short: one more
        Assert.Equal(4, Step(200_000));
        Assert.Equal(5, Step(200_000));
        Assert.Equal(6, Step(200_000));
        Assert.Equal(7, Step(200_000));
        Assert.Equal(6, Step(1_000_000));       // full again: one back a second
        Assert.Equal(5, Step(1_000_000));
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(5, c.Slots);               // not resampled within a second
        for (int i = 0; i < 5; i++) Step(1_000_000);
        Assert.Equal(2, c.Slots);               // never below UnchokeSlots
    }

    [Fact]
    public void Optimistic_choice_is_deterministic_for_a_seed()
    {
        PeerHandle? Run()
        {
            var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 0, SeedUnchokeAllUpTo = 0 }, new FakeTimeProvider(), new Random(99));
            c.Decide([P(1), P(2), P(3), P(4), P(5)], seeding: false, [], uploaded: 0);
            return c.OptimisticPeer;
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Departed_peers_are_forgotten()
    {
        var c = new Choker(new ChokerOptions { UnchokeSlots = 2, UnchokeAllUpTo = 0, SeedUnchokeAllUpTo = 0 }, _time, new Random(1));
        Decide(c, P(1), P(2), P(3));
        Assert.True(c.IsUnchoked(new PeerHandle(1)));
        Assert.Equal([3], Decide(c, P(3)));
        Assert.False(c.IsUnchoked(new PeerHandle(1)));
    }
}
