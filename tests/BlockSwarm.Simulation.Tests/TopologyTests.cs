namespace BlockSwarm.Simulation.Tests;

public sealed class TopologyTests
{
    [Fact]
    public void One_switch_paths_cross_the_two_cables_only()
    {
        var t = new Topology(new NetworkShape { Clients = 10, AccessRate = 8e9 }, payloadShare: 1);
        Span<int> links = stackalloc int[FairShare.MaxHops];
        Assert.Equal(2, t.Path(1, 2, links));
        Assert.Equal(1, t.SwitchCount);
        Assert.Equal(1e9, t.HostRate(3));
    }

    [Fact]
    public void Across_switches_a_flow_crosses_both_uplinks()
    {
        var t = new Topology(new NetworkShape { Clients = 96, PerSwitch = 48, AccessRate = 1e9, UplinkRate = 10e9 }, payloadShare: 1);
        Span<int> links = stackalloc int[FairShare.MaxHops];
        Assert.Equal(2, t.SwitchCount);
        Assert.Equal(0, t.SwitchOf(48));
        Assert.Equal(1, t.SwitchOf(49));
        int n = t.Path(1, 96, links);
        Assert.Equal(4, n);
        Assert.Equal(t.UplinkUp(0), links[1]);
        Assert.Equal(t.UplinkDown(1), links[2]);
        Assert.Equal(10e9 / 8, t.Capacity[links[1]]);
        // The origin on the core crosses only the client's switch's uplink.
        Assert.Equal(-1, t.SwitchOf(0));
        Assert.Equal(3, t.Path(0, 60, links));
        Assert.Equal(t.UplinkDown(1), links[1]);
        Assert.NotEqual(t.Address(1), t.Address(49));
    }
}
