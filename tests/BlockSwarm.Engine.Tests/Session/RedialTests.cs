using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Session;

public sealed class RedialTests
{
    /// <summary>
    /// Regression: the first re-dial after a failed attempt came after 4 s, not the documented 2 s, because the
    /// backoff was doubled before it was used. Seen in interop: libtorrent drops peers while it checks its files,
    /// and a client starting just before its seeder should not sit idle for twice the intended delay.
    /// </summary>
    [Fact]
    public async Task A_failed_dial_is_retried_after_two_seconds()
    {
        using var dir = new TempDirectory("redial");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 5);
        var ct = TestContext.Current.CancellationToken;

        // A port nobody listens on yet: the first dial is refused.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var endPoint = (IPEndPoint)probe.LocalEndpoint;
        probe.Stop();

        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var target = dir.File("target.img");
        await using var leechStorage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
        await using var leechEngine = TestEngines.Start(null, seed: 3, time);
        var leech = leechEngine.Add(t, leechStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [endPoint] });
        var dial = leech.DialStateOf(endPoint)!;
        await Eventually.UntilAsync(() => dial.Failures >= 1, TimeSpan.FromSeconds(30), "the first, refused dial to end", ct: ct);

        // Fake time has not moved, so the failure ended at 0 and the next attempt is due 2 s later (not 4 s).
        long failedAt = time.GetTimestamp();
        Assert.Equal(1, dial.Failures);
        Assert.Equal(TimeSpan.FromSeconds(2), time.GetElapsedTime(failedAt, dial.NextAttemptTimestamp));

        // And the re-dial happens: with the seeder up, fake time moves on in steps until it connects. (A step
        // count is not asserted: on a loaded machine the session's tick may register its next timer only after
        // a step, which is a test artefact, not a late re-dial.)
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(endPoint.Address, seed: 4, port: endPoint.Port);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        await Eventually.UntilAsync(() =>
        {
            if (seeder.GetStats().Peers == 1) return true;
            time.Advance(TimeSpan.FromMilliseconds(500));
            return false;
        }, TimeSpan.FromSeconds(20), "the re-dial to connect", poll: TimeSpan.FromMilliseconds(50), ct: ct);
        Assert.Equal(1, dial.Failures);
    }
}
