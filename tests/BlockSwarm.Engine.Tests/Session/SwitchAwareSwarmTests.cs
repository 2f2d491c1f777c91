using System.Net;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>
/// Switch awareness between real engines: two leechers behind one "switch" (127.0.1.0/24, by
/// <see cref="TorrentOptions.SwitchPrefixLength"/>) and a seeder behind another (127.0.9.1).
/// </summary>
public sealed class SwitchAwareSwarmTests(ITestOutputHelper output)
{
    /// <summary>
    /// Each piece crosses the "uplink" once: the leechers split the pieces by their peer ids, tell each other what they
    /// import (bs_import), and take the rest from each other. With the grace long, the seeder sends exactly F.
    /// </summary>
    [Fact]
    public async Task Two_leechers_behind_one_switch_fetch_each_piece_across_the_uplink_once()
    {
        using var dir = new TempDirectory("switch");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 21);
        var ct = TestContext.Current.CancellationToken;

        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.9.1"), seed: 1);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());

        var options = new TorrentOptions
        {
            SwitchPrefixLength = 24,
            Swarm = new SwarmOptions { RemoteClaimGrace = TimeSpan.FromMinutes(5) },
        };
        var engines = new List<TorrentEngine>();
        var storages = new List<IPieceStorage>();
        var leechers = new List<TorrentSession>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var st = DeviceStorage.CreateImage(dir.File($"target{i}.img"), t, size: new FileInfo(img).Length);
                storages.Add(st);
                var engine = TestEngines.Start(IPAddress.Parse($"127.0.1.{i + 1}"), seed: 200 + i);
                engines.Add(engine);
                leechers.Add(engine.Add(t, st, new Bitfield(t.PieceCount), options));
            }
            // The leechers meet first, so each knows the other before a piece is asked across the uplink.
            leechers[1].AddPeer(leechers[0].LocalEndPoint!);
            await Eventually.UntilAsync(() => leechers.All(l => l.GetStats().Peers == 1), TimeSpan.FromSeconds(20), "the leechers to connect", ct: ct);
            foreach (var l in leechers) l.AddPeer(seeder.LocalEndPoint!);

            var all = Task.WhenAll(leechers.Select(l => l.Completion));
            var done = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct));
            Assert.True(done == all, "leechers did not finish in 60 s: " + string.Join("; ", leechers.Select(l => $"{l.GetStats().PiecesHave}/{t.PieceCount}")));
            await all;

            var seed = seeder.GetStats();
            output.WriteLine($"seeder sent {seed.PayloadUploaded} of F = {t.TotalLength}");
            foreach (var l in leechers)
            {
                var st = l.GetStats();
                output.WriteLine($"leecher: down {st.PayloadDownloaded}, up {st.PayloadUploaded}, imports heard {l.Swarm.ImportsHeard}");
                Assert.True(st.PayloadUploaded > 0, "a leecher sent its share to the other");
                Assert.True(l.Swarm.ImportsHeard > 0, "a leecher heard the other's bs_import");
            }
            Assert.Equal(t.TotalLength, seed.PayloadUploaded);
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var st in storages) await st.DisposeAsync();
        }
        for (int i = 0; i < 2; i++) LoopbackSwarmTests.AssertExtentsEqual(t, img, dir.File($"target{i}.img"));
    }
}
