using System.Net;
using System.Net.Sockets;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker.Tests;

/// <summary>Real clients and a real tracker from Debian packages, all on 127.0.0.0/8.</summary>
public sealed class InteropTests
{
    [Fact]
    [Requires("aria2c", Need.PythonLibtorrent)]
    public async Task Aria2c_downloads_from_libtorrent_found_through_our_tracker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = new StandaloneTrackerHost();
        await host.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, ct);

        using var dir = new TempDirectory("interop");
        var seedDir = Directory.CreateDirectory(dir.File("seed")).FullName;
        var getDir = Directory.CreateDirectory(dir.File("get")).FullName;
        var data = new byte[700 * 1024 + 123];
        new Random(42).NextBytes(data);
        var dataPath = Path.Combine(seedDir, "payload.bin");
        await File.WriteAllBytesAsync(dataPath, data, ct);
        var torrentPath = dir.File("t.torrent");
        LtScript.Create(dataPath, torrentPath, 65536, host.AnnounceUri.ToString());
        var torrent = Torrent.Load(torrentPath);

        var seedPort = FreePort.Tcp(IPAddress.Parse("127.0.0.2"));
        // The seeder announces its own loopback alias; our tracker honours ip= from loopback.
        using var seeder = RunningProcess.Start(LtScript.Spec("libtorrent seeder", "seed", torrentPath, seedDir,
            "--listen", $"127.0.0.2:{seedPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}", "--announce-ip", "127.0.0.2"));
        await seeder.WaitForOutputAsync("] seeding", TimeSpan.FromSeconds(60), ct);
        await Eventually.UntilAsync(() => host.Tracker.GetPeers(torrent.InfoHash).Count == 1, TimeSpan.FromSeconds(20),
            "the libtorrent seeder's announce to reach our tracker", () => seeder.Tail(), ct: ct);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), host.Tracker.GetPeers(torrent.InfoHash)[0].EndPoint.Address);

        var r = Tool.Run("aria2c", [
            "--dir=" + getDir, "--seed-time=0", "--bt-enable-lpd=false", "--enable-dht=false", "--enable-dht6=false",
            "--enable-peer-exchange=false", "--bt-external-ip=127.0.0.1", "--interface=127.0.0.1",
            "--listen-port=" + FreePort.Tcp(IPAddress.Loopback), "--bt-stop-timeout=60", "--summary-interval=0",
            "--console-log-level=warn", "--check-integrity=true", torrentPath], check: false, timeout: TimeSpan.FromSeconds(90));
        Assert.True(r.ExitCode == 0, $"aria2c exited {r.ExitCode}\n{r.StdOut}\n{r.StdErr}\nseeder:\n{seeder.Output}");
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(getDir, "payload.bin"), ct));
    }

    [Fact]
    [Requires(Need.Root, "opentracker")]
    public async Task Our_client_finds_peers_through_opentracker()
    {
        Requires.That(Tool.Run("id", ["_opentracker"], check: false).ExitCode == 0,
            "opentracker refuses to run as root and needs its _opentracker user (the Debian package creates it)");
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("opentracker");
        var hash = Hash(7);
        // opentracker chroots into -d, so the whitelist path is relative to it.
        await File.WriteAllTextAsync(dir.File("whitelist"), hash.ToHex() + "\n", ct);
        Tool.Run("chmod", "755", dir.Path); // opentracker drops to _opentracker and must read it
        var port = FreePort.Tcp(IPAddress.Loopback);
        var p = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var ot = RunningProcess.Start("opentracker", "-u", "_opentracker", "-d", dir.Path, "-w", "whitelist", "-i", "127.0.0.1", "-p", p, "-P", p);
        var announce = new Uri($"http://127.0.0.1:{p}/announce");
        using var http = new HttpClient();
        await ot.WaitForListenerAsync("127.0.0.1", port, TimeSpan.FromSeconds(5), ct);
        var client = new TrackerClient(http);
        AnnounceParameters P(int peer, int peerPort) => new()
        {
            InfoHash = hash,
            PeerId = PeerId(peer),
            Port = peerPort,
            Left = 1000,
            Event = AnnounceEvent.Started,
        };
        // opentracker accepts connections before it has read its whitelist: retry the first announce briefly.
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await client.AnnounceAsync(announce, P(1, 41001), ct);
                return true;
            }
            catch (TrackerException ex) when (ex.Message.Contains("not authorized", StringComparison.Ordinal))
            {
                return false;
            }
        }, TimeSpan.FromSeconds(5), "opentracker to accept the whitelisted info-hash", () => ot.Tail(), TimeSpan.FromMilliseconds(100), ct);
        var second = await client.AnnounceAsync(announce, P(2, 41002), ct);
        Assert.Contains(new IPEndPoint(IPAddress.Loopback, 41001), second.Peers);
        var first = await client.AnnounceAsync(announce, P(1, 41001) with { Event = AnnounceEvent.None }, ct);
        Assert.Contains(new IPEndPoint(IPAddress.Loopback, 41002), first.Peers);
        Assert.Equal(2, first.Incomplete);

        // Same through AnnounceManager (tiers, events) and the whitelist refusing others.
        using var manager = new AnnounceManager(client, hash, PeerId(3), 41003, [[announce]], () => new AnnounceProgress(0, 0, 1000));
        var r = await manager.AnnounceRoundAsync(AnnounceEvent.Started, ct);
        Assert.Contains(new IPEndPoint(IPAddress.Loopback, 41001), r.Peers);
        var refused = await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(announce, P(1, 41001) with { InfoHash = Hash(8) }, ct));
        Assert.True(refused.IsFailureReason);
    }
}
