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
}
