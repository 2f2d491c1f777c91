using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab.Tests;

/// <summary>
/// Fault scenarios on the swarm lab (<see cref="LabNetwork"/>: namespaces on a bridge, tbf-shaped links):
/// each runs the real CLI processes, injects one fault, and checks every target bit for bit.
/// They need root (ip netns, tc), as CI has; elsewhere they are skipped.
/// </summary>
[Collection(nameof(LabCollection))]
[Requires(Need.Root, Need.NetworkNamespaces, "tc")]
public sealed partial class FaultScenarioTests(ITestOutputHelper output) : IDisposable
{
    private const int ImageMib = 24;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(50);
    private readonly TempDirectory _dir = new("lab-fault");
    private LabNetwork? _net;

    /// <summary>The lab LAN; every process's output lands in the test log when it is disposed.</summary>
    private LabNetwork Net(int clients, double rateMbit)
    {
        LabNetwork.Cli = RepoPaths.CliDll;
        _net = LabNetwork.Create(clients, rateMbit, output.WriteLine, dumpOutputOnDispose: true);
        return _net;
    }

    public void Dispose()
    {
        _net?.Dispose();
        _dir.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A random image (every byte sent: map all) and its torrent.</summary>
    private (string Image, string Torrent, long Bytes, long PieceLength) MakeImage()
    {
        var made = RandomLabImage.Make(_dir, ImageMib);
        return (made.Image, made.Torrent, made.Bytes, made.PieceLength);
    }

    private async Task<RunningProcess> ServeAsync(string image, string torrent, int expect, params string[] extra)
    {
        var net = _net!;
        var serve = net.StartBlockSwarm(net.Server, "serve", ["serve", "--source", image, "--torrent", torrent, "--listen", net.Server.Ip,
            "--http-port", "8080", "--bt-port", "6881", "--expect", expect.ToString(CultureInfo.InvariantCulture), .. extra]);
        await net.WaitListeningAsync(net.Server, 8080, serve, TimeSpan.FromSeconds(30), Ct);
        return serve;
    }

    private RunningProcess Deploy(LanHost c, string target) =>
        _net!.StartBlockSwarm(c, "deploy " + c.Label, ["deploy", "--server", $"http://{_net.Server.Ip}:8080", "--target", target,
            "--allow-file", "--yes", "--json", "--listen", $"{c.Ip}:6881", "--id", c.Label, "--hostname", c.Label, "--max-seed", "60"]);

    private string Target(LanHost c, long size)
    {
        var path = _dir.File(c.Label + ".img");
        if (!File.Exists(path)) using (var f = File.Create(path)) f.SetLength(size);
        return path;
    }

    /// <summary>The last JSON progress event a deploy printed (bytesHave, totalBytes, downloaded, banned), or null.</summary>
    private static JsonNode? LastProgress(RunningProcess p)
    {
        foreach (var line in p.Output.Split('\n').Reverse())
        {
            var i = line.IndexOf("{\"time\"", StringComparison.Ordinal);
            if (i >= 0 && line.Contains("\"event\":\"progress\"", StringComparison.Ordinal)) return JsonNode.Parse(line[i..]);
        }
        return null;
    }

    private static double Progress(RunningProcess p) => (double?)LastProgress(p)?["progress"] ?? 0;

    private static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan timeout) =>
        Eventually.UntilAsync(condition, timeout, what, poll: TimeSpan.FromMilliseconds(100), ct: Ct);

    private static void AssertSame(string expected, string actual)
    {
        var r = Tool.Run("cmp", [expected, actual], check: false);
        Assert.True(r.ExitCode == 0, $"{actual} differs from {expected}: {r.StdOut}{r.StdErr}");
    }

    [GeneratedRegex(@"\((\d+) bytes downloaded\)")]
    private static partial Regex DownloadedBytes();

    [Fact]
    public async Task Client_killed_at_half_resumes_bit_exact_without_fetching_verified_pieces_again()
    {
        var net = Net(1, 40);
        var (image, torrent, bytes, pieceLength) = MakeImage();
        await ServeAsync(image, torrent, 1, "--policy", "none");
        var c = net.Clients[0];
        var target = Target(c, bytes);

        var first = Deploy(c, target);
        await WaitUntilAsync(() => Progress(first) >= 0.5 || first.HasExited, "at 50%", Timeout);
        first.Kill(); // SIGKILL: no graceful shutdown, no final checkpoint
        var haveAtKill = (long)LastProgress(first)!["bytesHave"]!;
        net.Note($"killed at {haveAtKill} of {bytes} bytes");
        Assert.InRange(haveAtKill, bytes / 4, bytes - 1);

        var second = Deploy(c, target);
        Assert.Equal(0, await second.WaitForExitAsync(Timeout, Ct));
        AssertSame(image, target);
        var downloaded = long.Parse(DownloadedBytes().Match(second.Output).Groups[1].Value, CultureInfo.InvariantCulture);
        // Pieces verified after the last progress line (at most a second's worth) and blocks in flight.
        long slack = 4 * pieceLength + (40_000_000 / 8);
        net.Note($"second run downloaded {downloaded} bytes; {bytes - haveAtKill} were missing at the kill");
        Assert.True(downloaded <= bytes - haveAtKill + slack, $"the second run downloaded {downloaded} bytes, but only {bytes - haveAtKill} (+{slack} slack) were missing");
    }

    [Fact]
    public async Task Every_client_finishes_after_the_seeder_dies_once_the_swarm_holds_every_piece()
    {
        var net = Net(3, 50);
        var (image, torrent, bytes, _) = MakeImage();
        // A slow origin: the first two clients trade most pieces among themselves. Every piece certainly exists in
        // the swarm once one client has all of it (the origin having sent F bytes is not enough: spreading still sends
        // some pieces twice). Then the third client joins and the seeder dies at once: the third, and the second if it
        // is not done, must finish from the other clients alone.
        var serve = await ServeAsync(image, torrent, 3, "--upload-limit", "2MiB");
        var deploys = net.Clients.Take(2).Select(c => Deploy(c, Target(c, bytes))).ToList();
        await WaitUntilAsync(() => deploys.Any(d => d.Output.Contains("\"event\":\"complete\"", StringComparison.Ordinal)),
            "one client holding every piece", Timeout);
        deploys.Add(Deploy(net.Clients[2], Target(net.Clients[2], bytes)));
        // Kill once the newcomer has found the other clients (through the tracker that dies with the server).
        await WaitUntilAsync(() => (int?)LastProgress(deploys[2])?["peers"] >= 3, "the third client connected to the swarm", Timeout);
        serve.Kill();
        net.Note("seeder killed; progress " + string.Join(", ", deploys.Select(d => $"{Progress(d):0.00}")));
        foreach (var d in deploys) await d.WaitForOutputAsync("\"event\":\"complete\"", Timeout, Ct);
        foreach (var c in net.Clients) AssertSame(image, Target(c, bytes));
    }

    [Fact]
    public async Task A_peer_serving_corrupt_blocks_is_banned_and_every_client_ends_bit_exact()
    {
        var net = Net(3, 50);
        var (image, torrent, bytes, pieceLength) = MakeImage();
        await ServeAsync(image, torrent, 2, "--upload-limit", "2MiB", "--policy", "none");
        // The third host seeds the job's torrent from a copy with one byte flipped in every piece.
        var jobTorrent = _dir.File("job.torrent");
        net.Run(net.Server, "curl", ["-sf", "-o", jobTorrent, $"http://{net.Server.Ip}:8080/job.torrent"]);
        var corrupt = _dir.File("corrupt.img");
        var data = File.ReadAllBytes(image);
        for (long p = 0; p < data.Length; p += pieceLength) data[p + 1000] ^= 0x5a;
        File.WriteAllBytes(corrupt, data);
        var bad = net.Clients[2];
        var honest = net.Clients.Take(2).ToList();
        var liar = net.StartBlockSwarm(bad, "corrupt seeder", ["seed", "--torrent", jobTorrent, "--source", corrupt, "--listen", $"{bad.Ip}:6881",
            .. honest.SelectMany(c => new[] { "--peer", $"{c.Ip}:6881" })]);
        await net.WaitListeningAsync(bad, 6881, liar, TimeSpan.FromSeconds(30), Ct);

        var deploys = honest.Select(c => Deploy(c, Target(c, bytes))).ToList();
        foreach (var d in deploys) Assert.Equal(0, await d.WaitForExitAsync(Timeout, Ct));
        foreach (var c in honest) AssertSame(image, Target(c, bytes));
        // The liar was reached (it uploaded to someone) and banned by whoever took its data.
        var bans = deploys.Select(d => d.Output.Split('\n').Where(l => l.Contains("\"banned\":", StringComparison.Ordinal))
            .Select(l => (int)JsonNode.Parse(l[l.IndexOf('{', StringComparison.Ordinal)..])!["banned"]!).DefaultIfEmpty(0).Max()).ToList();
        net.Note("bans per client: " + string.Join(", ", bans));
        Assert.True(bans.Sum() >= 1, "nobody banned the corrupt peer");
    }

    [Fact]
    public async Task A_late_joiner_is_served_by_the_clients_that_finished()
    {
        var net = Net(3, 100);
        var (image, torrent, bytes, _) = MakeImage();
        var seeder = net.StartBlockSwarm(net.Server, "seeder", ["seed", "--torrent", torrent, "--source", image, "--listen", $"{net.Server.Ip}:6881"]);
        await net.WaitListeningAsync(net.Server, 6881, seeder, TimeSpan.FromSeconds(30), Ct);
        var early = net.Clients.Take(2).Select(c => net.StartBlockSwarm(c, "fetch " + c.Label, ["fetch", "--torrent", torrent, "--target", _dir.File(c.Label + ".img"),
            "--listen", $"{c.Ip}:6881", "--peer", $"{net.Server.Ip}:6881", "--seed-after", "120"])).ToList();
        foreach (var f in early) await f.WaitForOutputAsync("complete:", Timeout, Ct);
        seeder.Kill(); // from now on only the finished clients have the data
        var late = net.Clients[2];
        var fetch = net.StartBlockSwarm(late, "late " + late.Label, ["fetch", "--torrent", torrent, "--target", _dir.File(late.Label + ".img"),
            "--listen", $"{late.Ip}:6881", .. net.Clients.Take(2).SelectMany(c => new[] { "--peer", $"{c.Ip}:6881" })]);
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout, Ct));
        foreach (var c in net.Clients) AssertSame(image, _dir.File(c.Label + ".img"));
    }

    [Fact]
    public async Task A_transfer_resumes_after_the_link_goes_down_and_comes_back()
    {
        var net = Net(2, 40);
        var (image, torrent, bytes, _) = MakeImage();
        await ServeAsync(image, torrent, 2, "--policy", "none");
        var deploys = net.Clients.Select(c => Deploy(c, Target(c, bytes))).ToList();
        var victim = net.Clients[0];
        await WaitUntilAsync(() => Progress(deploys[0]) >= 0.3, "at 30%", Timeout);
        net.SetLink(victim, up: false);
        await Task.Delay(1500, Ct);
        var before = Progress(deploys[0]);
        await Task.Delay(5000, Ct);
        var during = Progress(deploys[0]);
        net.Note($"progress while the link was down: {before:0.000} -> {during:0.000}");
        Assert.True(during - before < 0.05, "data kept arriving over a link that was down");
        net.SetLink(victim, up: true);
        foreach (var d in deploys) Assert.Equal(0, await d.WaitForExitAsync(Timeout, Ct));
        foreach (var c in net.Clients) AssertSame(image, Target(c, bytes));
    }

    [Fact]
    public async Task A_transfer_through_a_fault_injecting_proxy_ends_bit_exact()
    {
        var net = Net(1, 100);
        var (image, torrent, bytes, _) = MakeImage();
        var seeder = net.StartBlockSwarm(net.Server, "seeder", ["seed", "--torrent", torrent, "--source", image, "--listen", $"{net.Server.Ip}:6881"]);
        await net.WaitListeningAsync(net.Server, 6881, seeder, TimeSpan.FromSeconds(30), Ct);
        // Delays of up to 15 ms per chunk, a reset about every 5 MiB, one flipped bit (a second would get the peer banned: it is the only one).
        var proxy = net.Start(net.Server, "proxy", LabNetwork.DotnetHost, [Path.Combine(AppContext.BaseDirectory, "blockswarm-lab.dll"), "proxy",
            "--listen", $"{net.Server.Ip}:7000", "--to", $"{net.Server.Ip}:6881", "--max-delay-ms", "15", "--reset-every-bytes", (5 << 20).ToString(CultureInfo.InvariantCulture),
            "--max-flips", "1", "--flip-after-bytes", (2 << 20).ToString(CultureInfo.InvariantCulture), "--seed", "7"]);
        await net.WaitListeningAsync(net.Server, 7000, proxy, TimeSpan.FromSeconds(30), Ct);
        var c = net.Clients[0];
        var fetch = net.StartBlockSwarm(c, "fetch", ["fetch", "--torrent", torrent, "--target", _dir.File("out.img"), "--peer", $"{net.Server.Ip}:7000"]);
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout, Ct));
        AssertSame(image, _dir.File("out.img"));
        Assert.Contains("reset", proxy.Output, StringComparison.Ordinal);
        Assert.Contains("flipped", proxy.Output, StringComparison.Ordinal);
    }
}

/// <summary>The lab's scenarios share the 2-core box's CPU and its timing; run them one after another.</summary>
[CollectionDefinition(nameof(LabCollection), DisableParallelization = true)]
public sealed class LabCollection;
