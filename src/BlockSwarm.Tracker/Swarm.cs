using System.Net;

namespace BlockSwarm.Tracker;

/// <summary>
/// Peers of one info-hash. Seeders and leechers are kept in separate arrays so a sample of
/// either is O(k); a dictionary finds a peer by id. All access is under <see cref="Gate"/>.
/// </summary>
internal sealed class Swarm(Random random)
{
    public readonly Lock Gate = new();
    public readonly Dictionary<PeerKey, SwarmPeer> Peers = [];
    public readonly List<SwarmPeer> Seeders = [];
    public readonly List<SwarmPeer> Leechers = [];
    public readonly Random Random = random;
    public int Downloaded;

    /// <summary>Set when the expiry sweep unlinked this empty swarm; an announcer holding it retries.</summary>
    public bool Removed;

    public void Add(SwarmPeer p)
    {
        Peers.Add(PeerKey.From(p.PeerId.Span), p);
        Insert(p);
    }

    public void Remove(SwarmPeer p)
    {
        Peers.Remove(PeerKey.From(p.PeerId.Span));
        Unlink(p);
    }

    public void SetSeeder(SwarmPeer p, bool seeder)
    {
        if (p.IsSeeder == seeder) return;
        Unlink(p);
        p.IsSeeder = seeder;
        Insert(p);
    }

    private void Insert(SwarmPeer p)
    {
        var list = p.IsSeeder ? Seeders : Leechers;
        p.Index = list.Count;
        list.Add(p);
    }

    private void Unlink(SwarmPeer p)
    {
        var list = p.IsSeeder ? Seeders : Leechers;
        var last = list[^1];
        list[p.Index] = last;
        last.Index = p.Index;
        list.RemoveAt(list.Count - 1);
    }

    /// <summary>
    /// Adds up to <paramref name="k"/> distinct random peers of <paramref name="list"/>, never
    /// <paramref name="self"/> nor another entry on the requester's own endpoint.
    /// </summary>
    public void Sample(List<SwarmPeer> list, int k, SwarmPeer? self, byte[] selfCompact, List<SwarmPeer> output)
    {
        var n = list.Count;
        if (k <= 0 || n == 0) return;
        var skip = self != null && self.IsSeeder == (list == Seeders) && self.Index < n && list[self.Index] == self ? self.Index : -1;
        var available = n - (skip >= 0 ? 1 : 0);
        if (k >= available)
        {
            for (var i = 0; i < n; i++)
                if (i != skip) AddIfNotSelf(list[i], selfCompact, output);
            return;
        }
        if (k * 4 >= available)
        {
            // Dense: Knuth's selection sampling, one pass, uniform, no allocation.
            var needed = k;
            var remaining = available;
            for (var i = 0; i < n && needed > 0; i++)
            {
                if (i == skip) continue;
                if (Random.Next(remaining) < needed)
                {
                    AddIfNotSelf(list[i], selfCompact, output);
                    needed--;
                }
                remaining--;
            }
            return;
        }
        // Sparse (k ≪ n): rejection sampling; duplicates checked in a small stack array.
        Span<int> chosen = stackalloc int[k];
        var c = 0;
        while (c < k)
        {
            var i = Random.Next(n);
            if (i == skip || chosen[..c].Contains(i)) continue;
            chosen[c++] = i;
            AddIfNotSelf(list[i], selfCompact, output);
        }
    }

    /// <summary>
    /// Adds up to <paramref name="k"/> distinct random peers in <paramref name="address"/>'s subnet, never
    /// <paramref name="self"/> nor its endpoint, mixed as a leecher's answer is (about half seeders, topped up from either
    /// side); one pass over the swarm (reservoir sampling). Returns how many were added.
    /// </summary>
    public int SampleSubnet(IPAddress address, int k, SwarmPeer? self, byte[] selfCompact, int ipv4Prefix, int ipv6Prefix, List<SwarmPeer> output)
    {
        if (k <= 0) return 0;
        var seeders = ReservoirOfSubnet(Seeders, address, k, self, selfCompact, ipv4Prefix, ipv6Prefix);
        var leechers = ReservoirOfSubnet(Leechers, address, k, self, selfCompact, ipv4Prefix, ipv6Prefix);
        int takeSeeders = SeedersToTake(seeders.Count, leechers.Count, k);
        int start = output.Count;
        output.AddRange(seeders.Take(takeSeeders));
        output.AddRange(leechers.Take(k - takeSeeders));
        return output.Count - start;
    }

    /// <summary>
    /// Of <paramref name="want"/> peers for a leecher, how many are seeders: about half (the origin must stay reachable
    /// among thousands of leechers), more when there are too few leechers, never more than there are.
    /// </summary>
    public static int SeedersToTake(int seeders, int leechers, int want) => Math.Min(seeders, Math.Max(want - leechers, (want + 1) / 2));

    private List<SwarmPeer> ReservoirOfSubnet(List<SwarmPeer> list, IPAddress address, int k, SwarmPeer? self, byte[] selfCompact, int ipv4Prefix, int ipv6Prefix)
    {
        var chosen = new List<SwarmPeer>(Math.Min(k, list.Count));
        int seen = 0;
        foreach (var p in list)
        {
            if (p == self || p.Compact.AsSpan().SequenceEqual(selfCompact)
                || !Client.Locality.SameSubnet(address, p.EndPoint.Address, ipv4Prefix, ipv6Prefix)) continue;
            seen++;
            if (chosen.Count < k) chosen.Add(p);
            else if (Random.Next(seen) is var j && j < k) chosen[j] = p;
        }
        return chosen;
    }

    private static void AddIfNotSelf(SwarmPeer p, byte[] selfCompact, List<SwarmPeer> output)
    {
        if (!p.Compact.AsSpan().SequenceEqual(selfCompact)) output.Add(p);
    }
}
