using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;

namespace BlockSwarm.Deploy.Tests;

public sealed class ClientRegistryTests
{
    [Fact]
    public async Task Listing_while_clients_register_never_throws_and_sees_whole_entries()
    {
        // Regression: LINQ over the live ConcurrentDictionary sized its buffer from Count, then enumerated a
        // grown dictionary (IndexOutOfRangeException in `serve` when 16 clients registered at once).
        var registry = new ClientRegistry(TimeProvider.System);
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 4_000; i++)
                registry.Report($"w{w}-{i}", "10.0.0.1", new ClientReport { State = "downloading", Progress = 0.5 });
        })).ToArray();
        int lists = 0;
        while (!writers.All(t => t.IsCompleted))
        {
            var list = registry.List();
            Assert.All(list, c => Assert.Equal("downloading", c.Report.State));
            Assert.Equal(list.Select(c => c.Id).Order(StringComparer.Ordinal), list.Select(c => c.Id));
            lists++;
        }
        await Task.WhenAll(writers);
        Assert.Equal(8_000, registry.List().Count);
        Assert.True(lists > 0);
    }

    [Fact]
    public void An_id_is_bound_to_the_address_it_first_enrolled_from_until_forgotten()
    {
        var registry = new ClientRegistry(TimeProvider.System, maxClients: 2);
        Assert.Equal(EnrolOutcome.New, registry.Enrol("a", "10.0.0.1").Outcome);
        Assert.Equal(EnrolOutcome.Again, registry.Enrol("a", "10.0.0.1").Outcome);
        Assert.Equal(new EnrolResult(EnrolOutcome.BoundElsewhere, "10.0.0.1"), registry.Enrol("a", "10.0.0.9"));
        Assert.Equal(EnrolOutcome.New, registry.Enrol("b", "10.0.0.2").Outcome);
        Assert.Equal(EnrolOutcome.Full, registry.Enrol("c", "10.0.0.3").Outcome);
        registry.Report("a", "10.0.0.1", new ClientReport { State = "done" });
        Assert.True(registry.Forget("a"));
        Assert.False(registry.IsEnrolled("a"));
        Assert.Empty(registry.List());
        Assert.False(registry.Forget("a"));
        Assert.Equal(EnrolOutcome.New, registry.Enrol("a", "10.0.0.9").Outcome);
    }

    [Fact]
    public void A_clients_token_passes_for_that_client_only()
    {
        var tokens = new ClientTokens();
        string a = tokens.Issue("pc-a");
        Assert.Equal(43, a.Length);
        Assert.True(tokens.Verify("pc-a", a));
        Assert.False(tokens.Verify("pc-b", a));
        Assert.False(tokens.Verify("pc-a", a[..42] + (a[42] == 'A' ? 'B' : 'A')));
        Assert.False(tokens.Verify("pc-a", ""));
        Assert.False(tokens.Verify("pc-a", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"));
        Assert.False(new ClientTokens().Verify("pc-a", a)); // another server run, another key
    }
}
