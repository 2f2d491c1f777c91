using System.Net;
using System.Net.Http.Json;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Client;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Observability.Logging;
using BlockSwarm.Testing;
using BlockSwarm.Devices;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Deploy.Tests;

public sealed class DeployEndToEndTests(ITestOutputHelper output)
{
    internal sealed class CollectingReporter : IDeployReporter
    {
        public List<(string Name, string Message)> Events { get; } = [];

        public void Event(string name, string message, IReadOnlyDictionary<string, object?>? data = null)
        {
            lock (Events) Events.Add((name, message));
        }

        public void Progress(SessionStats stats, string state) { }
    }

    internal static (string Image, Torrent Torrent) Ext4(TempDirectory dir)
    {
        var img = FsImage.Ext4(dir.File("source.img"), 48 << 20, ContentTree.Random(dir.File("content"), 5, ("data.bin", 6 << 20)));
        using var dev = DeviceFile.OpenRead(img);
        var map = MapResolver.Resolve(MapSpec.Parse("auto"), dev).Map;
        return (img, TorrentCreator.Create(dev, map, new CreateOptions { Name = "sda1" }));
    }

    [Fact]
    public async Task Two_clients_deploy_bit_exact_and_the_server_sees_both_done()
    {
        using var dir = new TempDirectory("deploy-e2e");
        var (img, torrent) = Ext4(dir);
        var ct = TestContext.Current.CancellationToken;
        await using var storage = DeviceStorage.Open(img, torrent, writable: false);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        var serverLog = new RecordingLoggerFactory();
        await using var server = new DeployServer(torrent, storage, new FileInfo(img).Length, new ServeOptions
        {
            Listen = IPAddress.Loopback,
            HttpPort = 0,
            BitTorrentPort = 0,
            Policy = new CompletionPolicy { Expected = 2 },
            LoggerFactory = serverLog,
            // One /8 per switch: the loopback clients are all behind one (the choice travels in the job).
            SwitchPrefixLength = 8,
        });
        await server.StartAsync(ct);
        var runs = new List<Task<int>>();
        var reporters = new List<CollectingReporter>();
        var targets = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var target = dir.File($"t{i}.img");
            await using (var f = new FileStream(target, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
            targets.Add(target);
            var client = new DeployClient(new DeployOptions
            {
                Server = server.HttpAddress!,
                Target = target,
                Yes = true,
                AllowFile = true,
                Listen = new IPEndPoint(IPAddress.Parse($"127.0.0.{21 + i}"), 0),
                Hostname = $"pc{i}",
                ReportInterval = TimeSpan.FromMilliseconds(300),
                // One client writes buffered (--write-mode buffered), the other as by default (O_DIRECT: /tmp takes it).
                WriteMode = i == 0 ? WriteMode.Buffered : WriteMode.Auto,
            }, reporters.AddAndReturn(new CollectingReporter()));
            runs.Add(client.RunAsync(ct));
        }
        var all = Task.WhenAll(runs);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct)) != all)
        {
            foreach (var r in reporters) lock (r.Events) foreach (var e in r.Events) output.WriteLine($"{e.Name}: {e.Message}");
            output.WriteLine(System.Text.Json.JsonSerializer.Serialize(server.Snapshot(), DeployServer.Json));
            Assert.Fail("clients did not finish in 60 s");
        }
        Assert.All(await all, rc => Assert.Equal(DeployExitCodes.Ok, rc));
        Assert.True(server.AllDone.IsCompletedSuccessfully);
        var layout = BlockImageLayout.Create(torrent);
        foreach (var t in targets) Assert.Null(layout.FirstDifference(img, t));
        Tool.Run("e2fsck", "-fn", targets[0]);
        var snap = server.Snapshot();
        output.WriteLine($"origin {snap.Totals.OriginUploaded}, peers {snap.Totals.PeerUploaded}, job {torrent.TotalLength}");
        Assert.Equal(2, snap.Totals.Done);
        Assert.All(snap.Clients, c => Assert.Equal("done", c.Report.State));
        var metrics = server.Metrics();
        Assert.Contains("blockswarm_clients_done 2", metrics);
        Assert.Contains("blockswarm_client_progress{client=", metrics);
        // The server's log tells the story: published, both registered and done once, all done once, each told to stop seeding.
        Assert.Single(serverLog.Named("JobPublished"));
        Assert.Equal(2, serverLog.Named("ClientRegistered").Count);
        Assert.Equal(2, serverLog.Named("ClientDone").Count);
        Assert.Single(serverLog.Named("AllClientsDone"));
        Assert.Equal(2, serverLog.Named("PolicyStopSeeding").Count);
        Assert.DoesNotContain(serverLog.Entries, e => e.Level >= LogLevel.Warning);
        using var http = new HttpClient();
        var job = await http.GetFromJsonAsync<JobInfo>(new Uri(server.HttpAddress!, "/api/job"), DeployServer.Json, ct);
        Assert.Equal(torrent.InfoHash.ToHex(), job!.InfoHash);
        Assert.Equal(8, job.SwitchPrefixLength);
        var served = Torrent.Parse(await http.GetByteArrayAsync(new Uri(server.HttpAddress!, "/job.torrent"), ct));
        Assert.Equal(torrent.InfoHash, served.InfoHash);
        Assert.StartsWith("http://127.0.0.1:", served.TrackerTiers[0][0]);
    }

    [Fact]
    public async Task Unreachable_server_exits_5_and_a_refused_target_exits_4_without_writing()
    {
        using var dir = new TempDirectory("deploy-bad");
        var ct = TestContext.Current.CancellationToken;
        var reporter = new CollectingReporter();
        var target = dir.File("t.img");
        File.WriteAllBytes(target, new byte[1 << 20]);
        // Nothing listens on this port: bind and close to get a free one.
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var rc = await new DeployClient(new DeployOptions { Server = new Uri($"http://127.0.0.1:{port}/"), Target = target, Yes = true, AllowFile = true, Time = new InstantTime() }, reporter).RunAsync(ct);
        Assert.Equal(DeployExitCodes.ServerUnreachable, rc);
        Assert.Contains(reporter.Events, e => e.Name == "error" && e.Message.Contains("unreachable", StringComparison.Ordinal));

        var (img, torrent) = Ext4(dir);
        await using var storage = DeviceStorage.Open(img, torrent, writable: false);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        await using var server = new DeployServer(torrent, storage, new FileInfo(img).Length, new ServeOptions { Listen = IPAddress.Loopback, HttpPort = 0, BitTorrentPort = 0 });
        await server.StartAsync(ct);
        var before = await File.ReadAllBytesAsync(target, ct);
        // Too small, and a plain file without --allow-file: refused before one byte is written.
        rc = await new DeployClient(new DeployOptions { Server = server.HttpAddress!, Target = target, Yes = true, AllowFile = true }, reporter).RunAsync(ct);
        Assert.Equal(DeployExitCodes.TargetRefused, rc);
        rc = await new DeployClient(new DeployOptions { Server = server.HttpAddress!, Target = target, Yes = true, AllowFile = false }, reporter).RunAsync(ct);
        Assert.Equal(DeployExitCodes.TargetRefused, rc);
        // Not confirmed (non-interactive without --yes).
        var big = dir.File("big.img");
        await using (var f = new FileStream(big, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
        rc = await new DeployClient(new DeployOptions { Server = server.HttpAddress!, Target = big, Yes = false, AllowFile = true }, reporter).RunAsync(ct);
        Assert.Equal(DeployExitCodes.TargetRefused, rc);
        Assert.Equal(before, await File.ReadAllBytesAsync(target, ct));
        Assert.Equal(0, new FileStream(big, FileMode.Open).Length == 0 ? 1 : 0);
        Assert.All(server.Registry.List(), c => Assert.Equal("refused", c.Report.State));
    }

    [Fact]
    public async Task A_refused_target_leaves_one_log_line_naming_the_target_and_why()
    {
        using var dir = new TempDirectory("deploy-refused-log");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = Ext4(dir);
        await using var storage = DeviceStorage.Open(img, torrent, writable: false);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        // The server logs through the real text format: what an operator would read in journald.
        var serverLines = new StringWriter();
        var serverLogs = LoggingSetup.CreateLoggerFactory(new LogSettings(), serverLines);
        int rc;
        string target = dir.File("small.img");
        File.WriteAllBytes(target, new byte[1 << 20]);
        var clientLog = new RecordingLoggerFactory();
        await using (var server = new DeployServer(torrent, storage, new FileInfo(img).Length,
            new ServeOptions { Listen = IPAddress.Loopback, HttpPort = 0, BitTorrentPort = 0, LoggerFactory = serverLogs }))
        {
            await server.StartAsync(ct);
            rc = await new DeployClient(new DeployOptions
            {
                Server = server.HttpAddress!,
                Target = target,
                Yes = true,
                AllowFile = true,
                ClientId = "pc7-test",
                Hostname = "pc7",
                // Pinned, as a real room would be: an unauthenticated server is worth a warning of its own.
                ServerTrust = Security.ServerTrust.Pinned(server.Identity.Fingerprint),
                LoggerFactory = clientLog,
            }, new CollectingReporter()).RunAsync(ct);
        }
        serverLogs.Dispose(); // flushes the queued lines
        Assert.Equal(DeployExitCodes.TargetRefused, rc);
        string reason = $"{target} has {1 << 20} bytes but the image needs";

        // The client: exactly one line at warning or above, and it says which target and why.
        var refused = Assert.Single(clientLog.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Equal(new EventId(1105, "TargetRefused"), refused.EventId);
        Assert.Equal(target, refused["Target"]);
        Assert.StartsWith($"target {target} refused: {reason}", refused.Message, StringComparison.Ordinal);

        // The server: one line naming the client, its host and address, the target and the same reason.
        var lines = serverLines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines, l => l.Contains("ClientRefused", StringComparison.Ordinal));
        var expected = $@"^\S+Z warn  DeployServer\[1005\] ClientRefused: client pc7-test \(pc7, 127\.0\.0\.1\) refused its target {System.Text.RegularExpressions.Regex.Escape(target)}: {System.Text.RegularExpressions.Regex.Escape(reason)} \d+$";
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(line, expected), line);
        Assert.Contains(lines, l => l.Contains("JobPublished", StringComparison.Ordinal));
    }

    /// <summary>Delays complete at once: retries are tested without waiting.</summary>
    private sealed class InstantTime : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            base.CreateTimer(callback, state, dueTime == Timeout.InfiniteTimeSpan ? dueTime : TimeSpan.Zero, period);
    }
}

internal static class ListExtensions
{
    public static T AddAndReturn<T>(this List<T> list, T item)
    {
        list.Add(item);
        return item;
    }
}
