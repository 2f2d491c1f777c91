using System.Net;
using BlockSwarm.Tracker.Client;
using static BlockSwarm.Tracker.Tests.TestQueries;

namespace BlockSwarm.Tracker.Tests;

/// <summary>Switch awareness in the tracker: a leecher hears mostly of peers of its own subnet (issue 19).</summary>
public sealed class LocalityTests
{
    [Theory]
    [InlineData("10.1.2.3", "10.1.2.200", true)]
    [InlineData("10.1.2.3", "10.1.3.3", false)]
    [InlineData("::ffff:10.1.2.3", "10.1.2.9", true)]
    [InlineData("fd00:1:2:3::5", "fd00:1:2:3::9", true)]
    [InlineData("fd00:1:2:3::5", "fd00:1:2:4::5", false)]
    [InlineData("10.1.2.3", "fd00::1", false)]
    public void Subnets_are_slash_24_and_slash_64(string a, string b, bool same)
    {
        Assert.Equal(same, Locality.SameSubnet(IPAddress.Parse(a), IPAddress.Parse(b)));
    }

    [Fact]
    public void Odd_prefixes_and_zero()
    {
        Assert.True(Locality.SameSubnet(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("10.1.3.3"), ipv4Prefix: 23));
        Assert.False(Locality.SameSubnet(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("10.1.4.3"), ipv4Prefix: 23));
        Assert.True(Locality.SameSubnet(IPAddress.Parse("10.1.2.3"), IPAddress.Parse("192.168.0.1"), ipv4Prefix: 0));
    }

    /// <summary>The engine's subnet is its interface's netmask, within what a switch's segment can be.</summary>
    [Theory]
    [InlineData("10.20.3.4", 16)]      // a flat room numbered in a /16
    [InlineData("10.30.0.9", 24)]      // a /32 host route says nothing about the segment: the default
    [InlineData("10.40.0.1", 24)]      // an address no interface holds (the simulator's): the default
    [InlineData("::ffff:10.20.3.4", 16)]
    [InlineData("fd00:1::5", 48)]
    [InlineData("fd00:2::5", 64)]      // a /128: the default
    public void Our_prefix_is_the_interface_netmask(string local, int prefix)
    {
        (IPAddress, int)[] interfaces =
        [
            (IPAddress.Parse("10.20.3.4"), 16),
            (IPAddress.Parse("10.30.0.9"), 32),
            (IPAddress.Parse("fd00:1::5"), 48),
            (IPAddress.Parse("fd00:2::5"), 128),
        ];
        Assert.Equal(prefix, Locality.PrefixOf(IPAddress.Parse(local), interfaces));
    }

    /// <summary>This machine's loopback is 127.0.0.1/8: every 127.x address is the same subnet from it, not only 127.0.0.x.</summary>
    [Fact]
    public void The_loopback_interface_gives_its_own_mask()
    {
        Assert.Equal(8, Locality.PrefixOf(IPAddress.Loopback));
    }

    private static readonly TrackerOptions NoRateLimit = new() { AnnouncesPerSecondPerIp = 0 };

    /// <summary>Two rooms of 100 clients, 10.1.1.x and 10.1.2.x: a client of the first hears of three quarters of its own room.</summary>
    [Fact]
    public void A_leecher_hears_of_its_own_subnet_first_and_of_the_others_too()
    {
        var t = new Tracker(NoRateLimit, random: new Random(7));
        static IPAddress Room(int room, int host) => new([10, 1, (byte)room, (byte)(host + 1)]);
        for (int i = 0; i < 100; i++)
        {
            Run(t, Announce(Hash(1), i, 7000), Room(1, i));
            Run(t, Announce(Hash(1), 1000 + i, 7000), Room(2, i));
        }
        var view = CompactPeers(Run(t, Announce(Hash(1), 5, 7000, numwant: 40), Room(1, 5)));
        Assert.Equal(40, view.Count);
        Assert.Equal(40, view.Distinct().Count());
        int own = view.Count(p => p.Address.GetAddressBytes()[2] == 1);
        Assert.True(own >= 30, $"{own} of 40 from its own subnet");
        Assert.True(own < 40, "some peers of the other subnet keep the rooms connected");
        Assert.DoesNotContain(view, p => p.Address.Equals(Room(1, 5)));
    }

    [Fact]
    public void Locality_off_samples_the_whole_swarm()
    {
        var t = new Tracker(NoRateLimit with { LocalShare = 0 }, random: new Random(8));
        static IPAddress Room(int room, int host) => new([10, 1, (byte)room, (byte)(host + 1)]);
        for (int i = 0; i < 100; i++)
        {
            Run(t, Announce(Hash(1), i, 7000), Room(1, i));
            Run(t, Announce(Hash(1), 1000 + i, 7000), Room(2, i));
        }
        var view = CompactPeers(Run(t, Announce(Hash(1), 5, 7000, numwant: 40), Room(1, 5)));
        int own = view.Count(p => p.Address.GetAddressBytes()[2] == 1);
        Assert.InRange(own, 8, 32);
    }
}
