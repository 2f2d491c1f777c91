using System.Net;
using BlockSwarm.Engine.Session;

namespace BlockSwarm.Engine.Tests.Session;

public sealed class ConnectionPolicyTests
{
    [Fact]
    public void Dial_limit_is_half_the_connections_unless_given()
    {
        Assert.Equal(24, ConnectionPolicy.DialLimit(new TorrentOptions()));
        Assert.Equal(10, ConnectionPolicy.DialLimit(new TorrentOptions { MaxOutgoing = 10 }));
        Assert.Equal(48, ConnectionPolicy.DialLimit(new TorrentOptions { MaxOutgoing = 500 }));
        Assert.True(ConnectionPolicy.MayDial(connected: 20, dialing: 3, dialLimit: 24));
        Assert.False(ConnectionPolicy.MayDial(connected: 20, dialing: 4, dialLimit: 24));
    }

    /// <summary>
    /// Another switch is another subnet by our own interface's netmask: the loopback is a /8, so 127.5.0.1 is local to
    /// 127.0.0.1 (a fixed /24 called it remote); an address no interface holds (the simulator's) falls back to /24.
    /// </summary>
    [Fact]
    public void Another_switch_is_another_subnet_by_our_interface_netmask()
    {
        var on = new TorrentOptions();
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(on, IPAddress.Loopback, IPAddress.Parse("127.5.0.1")));
        Assert.True(ConnectionPolicy.IsBehindOtherSwitch(on, IPAddress.Parse("10.40.0.1"), IPAddress.Parse("10.40.1.1")));
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(on, IPAddress.Parse("10.40.0.1"), IPAddress.Parse("10.40.0.77")));
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(on, null, IPAddress.Parse("10.40.1.1")));
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(new TorrentOptions { SwitchLocality = false }, IPAddress.Parse("10.40.0.1"), IPAddress.Parse("10.40.1.1")));
    }

    /// <summary>A given prefix replaces the netmask for IPv4: a /16 room with one /24 per switch, or two loopback "switches".</summary>
    [Fact]
    public void A_given_prefix_length_replaces_the_netmask()
    {
        var per24 = new TorrentOptions { SwitchPrefixLength = 24 };
        Assert.True(ConnectionPolicy.IsBehindOtherSwitch(per24, IPAddress.Parse("127.0.1.1"), IPAddress.Parse("127.0.2.1")));
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(per24, IPAddress.Parse("127.0.1.1"), IPAddress.Parse("127.0.1.9")));
        Assert.True(ConnectionPolicy.IsBehindOtherSwitch(per24, IPAddress.Parse("127.0.1.1").MapToIPv6(), IPAddress.Parse("127.0.2.1")));
        Assert.False(ConnectionPolicy.IsBehindOtherSwitch(new TorrentOptions { SwitchPrefixLength = 8 }, IPAddress.Parse("10.40.0.1"), IPAddress.Parse("10.41.1.1")));
    }

    [Fact]
    public void Only_a_seed_meeting_a_seed_is_redundant()
    {
        Assert.True(ConnectionPolicy.IsRedundant(weAreComplete: true, peerIsSeed: true));
        Assert.False(ConnectionPolicy.IsRedundant(weAreComplete: true, peerIsSeed: false));
        Assert.False(ConnectionPolicy.IsRedundant(weAreComplete: false, peerIsSeed: true));
    }
}
