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
        // The refused attempt must end while fake time still stands at 0, so that its next attempt is due at 2 s (on
        // a loaded machine a fixed real-time pause was not always enough: the attempt ended after the clock moved on).
        await Eventually.UntilAsync(() => !leech.IsDialing(endPoint), TimeSpan.FromSeconds(30), "the first, refused dial to end", ct: ct);

        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(endPoint.Address, seed: 4, port: endPoint.Port);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());

        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(50, ct);
        }
        // Fake time now stands at 3 s and stays there: only a re-dial due by then can connect.
        await Eventually.UntilAsync(() => seeder.GetStats().Peers == 1, TimeSpan.FromSeconds(5), "the re-dial due at 2 s to connect", ct: ct);
    }
}
