namespace BlockSwarm.Simulation.Tests;

public sealed class FairShareTests
{
    private static double[] Rates(double[] capacity, params int[][] paths)
    {
        var path = new int[paths.Length * FairShare.MaxHops];
        var hops = new byte[paths.Length];
        for (int f = 0; f < paths.Length; f++)
        {
            hops[f] = (byte)paths[f].Length;
            paths[f].CopyTo(path, f * FairShare.MaxHops);
        }
        var rates = new double[paths.Length];
        new FairShare().Compute(paths.Length, path, hops, capacity, rates);
        return rates;
    }

    [Fact]
    public void Flows_on_one_link_share_it_equally()
    {
        var rates = Rates([90], [0], [0], [0]);
        Assert.All(rates, r => Assert.Equal(30, r, 9));
    }

    [Fact]
    public void A_flow_held_back_elsewhere_leaves_its_share_to_the_others()
    {
        // Link 0 (100) is shared by three flows; flow 2 also crosses link 1 (10): it gets 10, the other two 45 each.
        var rates = Rates([100, 10], [0], [0], [0, 1]);
        Assert.Equal(45, rates[0], 9);
        Assert.Equal(45, rates[1], 9);
        Assert.Equal(10, rates[2], 9);
    }

    [Fact]
    public void Max_min_fairness_over_a_chain_of_links()
    {
        // The textbook case: a long flow over links 0 and 1 (capacity 1 each) and one short flow on each link.
        // Max-min: every flow gets 1/2.
        var rates = Rates([1, 1], [0, 1], [0], [1]);
        Assert.All(rates, r => Assert.Equal(0.5, r, 9));
    }

    [Fact]
    public void A_link_that_is_down_carries_nothing_and_frees_no_one()
    {
        var rates = Rates([100, 0], [0, 1], [0]);
        Assert.Equal(0, rates[0], 9);
        Assert.Equal(100, rates[1], 9);
    }
}
