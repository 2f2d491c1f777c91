using System.Diagnostics;
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
    private static int FreeTcpPort(IPAddress ip)
    {
        using var l = new TcpListener(ip, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Aria2c_downloads_from_libtorrent_found_through_our_tracker()
    {
        Assert.SkipUnless(Tool.Exists("aria2c") && Tool.Exists(Tool.SystemPython)
            && Tool.Run(Tool.SystemPython, ["-c", "import libtorrent"], check: false).ExitCode == 0, "aria2c or python3-libtorrent missing");
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
        var script = Path.Combine(RepoPaths.Root, "tests", "scripts", "lt_peer.py");
        var torrentPath = dir.File("t.torrent");
        Tool.Run(Tool.SystemPython, script, "create", dataPath, torrentPath, host.AnnounceUri.ToString(), "65536");
        var torrent = Torrent.Load(torrentPath);

        var seedPort = FreeTcpPort(IPAddress.Parse("127.0.0.2"));
        var psi = new ProcessStartInfo(Tool.SystemPython)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, "seed", torrentPath, seedDir, "127.0.0.2", seedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "90" })
            psi.ArgumentList.Add(a);
        using var seeder = Process.Start(psi)!;
        var seederLog = new System.Text.StringBuilder();
        seeder.ErrorDataReceived += (_, e) => { lock (seederLog) seederLog.AppendLine(e.Data); };
        string SeederLog() { lock (seederLog) return seederLog.ToString(); }
        seeder.BeginErrorReadLine();
        try
        {
            string? line;
            while ((line = await seeder.StandardOutput.ReadLineAsync(ct)) != null && line != "seeding") { lock (seederLog) seederLog.AppendLine(line); }
            Assert.True(line == "seeding", "seeder never became ready:\n" + SeederLog());
            _ = Task.Run(async () => { while (await seeder.StandardOutput.ReadLineAsync(ct) is { } l) lock (seederLog) seederLog.AppendLine(l); }, ct);
            await AnnounceClientTests.WaitFor(() => host.Tracker.GetPeers(torrent.InfoHash).Count == 1, 20_000);
            Assert.Equal(IPAddress.Parse("127.0.0.2"), host.Tracker.GetPeers(torrent.InfoHash)[0].EndPoint.Address);

            var r = Tool.Run("aria2c", [
                "--dir=" + getDir, "--seed-time=0", "--bt-enable-lpd=false", "--enable-dht=false", "--enable-dht6=false",
                "--enable-peer-exchange=false", "--bt-external-ip=127.0.0.1", "--interface=127.0.0.1",
                "--listen-port=" + FreeTcpPort(IPAddress.Loopback), "--bt-stop-timeout=60", "--summary-interval=0",
                "--console-log-level=warn", "--check-integrity=true", torrentPath], check: false, timeout: TimeSpan.FromSeconds(90));
            Assert.True(r.ExitCode == 0, $"aria2c exited {r.ExitCode}\n{r.StdOut}\n{r.StdErr}\nseeder:\n{SeederLog()}");
            Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(getDir, "payload.bin"), ct));
        }
        finally
        {
            try { seeder.StandardInput.Close(); } catch (IOException) { }
            if (!seeder.WaitForExit(10_000)) seeder.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Our_client_finds_peers_through_opentracker()
    {
        Assert.SkipUnless(Tool.Exists("opentracker"), "opentracker not installed");
        Assert.SkipUnless(Tool.IsRoot && Tool.Run("id", ["_opentracker"], check: false).ExitCode == 0,
            "opentracker refuses to run as root and needs its _opentracker user (Debian package creates it)");
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("opentracker");
        var hash = Hash(7);
        // opentracker chroots into -d, so the whitelist path is relative to it.
        await File.WriteAllTextAsync(dir.File("whitelist"), hash.ToHex() + "\n", ct);
        Tool.Run("chmod", "755", dir.Path); // opentracker drops to _opentracker and must read it
        var port = FreeTcpPort(IPAddress.Loopback);
        var p = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("opentracker") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-u", "_opentracker", "-d", dir.Path, "-w", "whitelist", "-i", "127.0.0.1", "-p", p, "-P", p }) psi.ArgumentList.Add(a);
        using var ot = Process.Start(psi)!;
        try
        {
            var announce = new Uri($"http://127.0.0.1:{p}/announce");
            using var http = new HttpClient();
            await AnnounceClientTests.WaitFor(() =>
            {
                try { using var c = new TcpClient(); c.Connect(IPAddress.Loopback, port); return true; }
                catch (SocketException) { return false; }
            });
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
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await client.AnnounceAsync(announce, P(1, 41001), ct);
                    break;
                }
                catch (TrackerException ex) when (attempt < 50 && ex.Message.Contains("not authorized", StringComparison.Ordinal))
                {
                    await Task.Delay(100, ct);
                }
            }
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
        finally
        {
            ot.Kill();
            await ot.WaitForExitAsync(ct);
        }
    }
}
