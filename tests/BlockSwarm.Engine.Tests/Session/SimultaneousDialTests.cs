using System.Net;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Session;

public sealed class SimultaneousDialTests
{
    /// <summary>
    /// Regression: two peers that dial each other at the same moment (both learned of the other from one PEX
    /// message) each kept their own outgoing connection and refused the incoming one as a duplicate, which closed
    /// a different connection on each side: both died, and the pair stayed apart (a flaky PEX test found it).
    /// Both sides now keep the connection opened by the lower peer id.
    /// </summary>
    [Fact]
    public async Task Peers_dialing_each_other_at_once_keep_one_connection()
    {
        using var dir = new TempDirectory("simdial");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 12);
        var ct = TestContext.Current.CancellationToken;
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        for (int round = 0; round < 6; round++)
        {
            var target = dir.File($"t{round}.img");
            var storage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
            // Fake time that never moves: no re-dial can ever happen, so only the two simultaneous dials exist.
            var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
            var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.51"), seed: 2 * round, time, pex: false);
            var leechEngine = TestEngines.Start(IPAddress.Parse("127.0.0.52"), seed: 2 * round + 1, time, pex: false);
            try
            {
                var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
                var leecher = leechEngine.Add(t, storage, new Bitfield(t.PieceCount));
                seeder.AddPeer(leecher.LocalEndPoint!);
                leecher.AddPeer(seeder.LocalEndPoint!);
                // Without any re-dial, the pair must keep exactly one live connection and finish over it.
                var done = await Task.WhenAny(leecher.Completion, Task.Delay(TimeSpan.FromSeconds(30), ct));
                Assert.True(done == leecher.Completion, $"round {round}: not complete ({leecher.GetStats().PiecesHave}/{t.PieceCount} pieces, peers {leecher.GetStats().Peers}/{seeder.GetStats().Peers})");
                await leecher.Completion;
                Assert.Equal(1, leecher.GetStats().Peers);
                Assert.Equal(1, seeder.GetStats().Peers);
            }
            finally
            {
                await leechEngine.DisposeAsync();
                await seedEngine.DisposeAsync();
                await storage.DisposeAsync();
            }
            LoopbackSwarmTests.AssertExtentsEqual(t, img, target);
        }
    }
}
