using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>An image prepared for the lab: the file, BlockSwarm's torrent, and a plain one-file torrent for standard clients.</summary>
public sealed record LabImage(string Kind, string Path, string Torrent, long PayloadBytes, long ImageBytes, string? PlainTorrent, string PlainDir)
{
    /// <summary>
    /// The used data as one stream (F = <see cref="PayloadBytes"/> bytes: the torrent's extents one after another, what
    /// BlockSwarm sends; the image itself when every byte is used): what multicast sends, as Clonezilla sends partclone's
    /// used blocks.
    /// </summary>
    public string? UsedPath { get; init; }

    /// <summary>The used data compressed with <c>zstd -3</c> as one stream (Z = <see cref="CompressedBytes"/> bytes).</summary>
    public string? CompressedPath { get; init; }

    public long CompressedBytes { get; init; }
}

/// <summary>
/// Extra options for the BlockSwarm runs: one variant is one system of the report ("BlockSwarm [ARGS]"). Words go to
/// both <c>serve</c> and <c>deploy</c>; a word <c>serve:X</c> or <c>deploy:X</c> goes to that command only.
/// </summary>
public sealed record BlockSwarmVariant(string Args, IReadOnlyList<string> ServeArgs, IReadOnlyList<string> DeployArgs)
{
    public static readonly BlockSwarmVariant Plain = new("", [], []);

    public string SystemName => Args.Length == 0 ? "BlockSwarm" : $"BlockSwarm [{Args}]";

    /// <summary>
    /// <c>--blockswarm-args</c>: variants separated by <c>;</c>, each split at whitespace (no shell quoting: write
    /// <c>--option=value</c>); an empty variant is the plain run. Null or empty: the plain run alone.
    /// </summary>
    public static IReadOnlyList<BlockSwarmVariant> Parse(string? spec) =>
        string.IsNullOrWhiteSpace(spec) ? [Plain] : [.. spec.Split(';').Select(v => v.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Select(words =>
            new BlockSwarmVariant(string.Join(' ', words),
                [.. words.Where(w => !w.StartsWith("deploy:", StringComparison.Ordinal)).Select(w => w.StartsWith("serve:", StringComparison.Ordinal) ? w["serve:".Length..] : w)],
                [.. words.Where(w => !w.StartsWith("serve:", StringComparison.Ordinal)).Select(w => w.StartsWith("deploy:", StringComparison.Ordinal) ? w["deploy:".Length..] : w)]))];
}

public sealed record ClientResult(string Client, double Seconds, long Downloaded, long Uploaded, long FromOrigin);

/// <summary>One run: a system delivering one image to N clients. Seconds = until the last client had all of it.</summary>
public sealed record RunResult(string System, string Image, int Clients, long Bytes, double RateMbit, double Seconds,
    IReadOnlyList<ClientResult> PerClient, long OriginUploaded, long PeerUploaded, string? Error)
{
    /// <summary>F/c: the floor for any N on equal links.</summary>
    public double FloorSeconds => Bytes * 8.0 / (RateMbit * 1e6);

    public double Ratio => Seconds / FloorSeconds;

    /// <summary>BlockSwarm: when the last client process was up and downloading (start-up of N .NET processes on the lab's cores).</summary>
    public double LastClientUpSeconds { get; init; } = double.NaN;

    /// <summary>Z: the image's used data compressed with <c>zstd -3</c> as one stream (0: not known).</summary>
    public long CompressedBytes { get; init; }

    /// <summary>Z/c: what sending the zstd -3 stream at line rate would take.</summary>
    public double CompressedFloorSeconds => CompressedBytes * 8.0 / (RateMbit * 1e6);

    public double CompressedRatio => CompressedBytes > 0 ? Seconds / CompressedFloorSeconds : double.NaN;

    /// <summary>The heterogeneous room: the one client on a slower link (null: every link at <see cref="RateMbit"/>).</summary>
    public string? SlowClient { get; init; }

    /// <summary>The slow client's link is c ÷ this (1: no slow client).</summary>
    public double SlowFactor { get; init; } = 1;

    public string Room => SlowClient == null ? "equal links" : $"one client at c/{SlowFactor:0.##}";

    /// <summary>Slow room: when the last client on a full-rate link had everything, ÷ F/c (NaN without such clients).</summary>
    public double FastRatio => PerClient.Where(c => c.Client != SlowClient).Select(c => c.Seconds).DefaultIfEmpty(double.NaN).Max() / FloorSeconds;

    /// <summary>Slow room: the slow client's time ÷ its own floor F/(c/k).</summary>
    public double SlowRatio => PerClient.FirstOrDefault(c => c.Client == SlowClient) is { } slow ? slow.Seconds / (FloorSeconds * SlowFactor) : double.NaN;

    public bool IsBlockSwarm => System.StartsWith("BlockSwarm", StringComparison.Ordinal);
}

/// <summary>Runs BlockSwarm and the baselines on a <see cref="LabNetwork"/>.</summary>
public sealed class Runners(LabNetwork net, string workDir, Action<string> log)
{
    private const int HttpPort = 8080;
    private const int BtPort = 6881;
    /// <summary>Standard clients listen here (serve's origin holds 6881 on the server).</summary>
    private const int PlainPort = 6882;
    private string ServerUrl => $"http://{net.Server.Ip}:{HttpPort}";
    /// <summary>
    /// Per run: 90 s + 3·N·F/c on the slowest client's link, or LAB_TIMEOUT_S when set (a stalled swarm should not hold
    /// the whole sweep).
    /// </summary>
    private TimeSpan Timeout(LabImage img) => TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("LAB_TIMEOUT_S"), CultureInfo.InvariantCulture, out var s) ? s
        : 90 + 3.0 * net.Clients.Count * img.PayloadBytes * 8.0 / (net.SlowestClientRateMbit * 1e6));

    /// <summary>A run's result in this room (its slow client, if any) with the image's F and Z; F is the payload whatever the system sent.</summary>
    private RunResult Result(string system, LabImage img, double seconds, IReadOnlyList<ClientResult> perClient, long originUploaded, long peerUploaded, string? error = null)
    {
        var slow = net.Clients.FirstOrDefault(c => net.RateOf(c) < net.RateMbit);
        return new RunResult(system, img.Kind, net.Clients.Count, img.PayloadBytes, net.RateMbit, seconds, perClient, originUploaded, peerUploaded, error)
        {
            CompressedBytes = img.CompressedBytes,
            SlowClient = slow?.Label,
            SlowFactor = slow == null ? 1 : net.RateMbit / net.RateOf(slow),
        };
    }

    /// <summary>Tells a file of a run in the slow room or with extra options from the plain run's (none for that one).</summary>
    private string RunSuffix(BlockSwarmVariant variant) =>
        (net.SlowestClientRateMbit < net.RateMbit ? string.Create(CultureInfo.InvariantCulture, $"-slow{net.RateMbit / net.SlowestClientRateMbit:0.##}") : "")
        + (variant.Args.Length == 0 ? "" : "-" + string.Concat(variant.Args.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_')));

    /// <summary>The result of a run that failed (no time).</summary>
    public RunResult Failed(string system, LabImage img, string error) => Result(system, img, double.NaN, [], -1, -1, error);

    private string Target(LanHost c) => System.IO.Path.Combine(workDir, c.Label + ".img");

    private void CleanTargets()
    {
        foreach (var f in Directory.EnumerateFiles(workDir)) File.Delete(f);
        foreach (var d in Directory.EnumerateDirectories(workDir)) Directory.Delete(d, recursive: true);
    }

    /// <summary>Starts <c>blockswarm serve</c> in the server namespace (the origin and the tracker every baseline swarm uses).</summary>
    public async Task<RunningProcess> StartServeAsync(LabImage img, params IEnumerable<string> extra)
    {
        var serve = net.StartBlockSwarm(net.Server, "serve", ["serve", "--source", img.Path, "--torrent", img.Torrent,
            "--listen", net.Server.Ip, "--http-port", "8080", "--bt-port", "6881", "--expect", net.Clients.Count.ToString(CultureInfo.InvariantCulture), .. extra]);
        await net.WaitListeningAsync(net.Server, HttpPort, serve, TimeSpan.FromSeconds(60));
        await net.WaitListeningAsync(net.Server, BtPort, serve, TimeSpan.FromSeconds(60));
        return serve;
    }

    /// <summary><c>serve</c> on the server, <c>deploy</c> on every client; <paramref name="variant"/>'s options added to them.</summary>
    public async Task<RunResult> BlockSwarmAsync(LabImage img, BlockSwarmVariant? variant = null)
    {
        variant ??= BlockSwarmVariant.Plain;
        CleanTargets();
        var serve = await StartServeAsync(img, variant.ServeArgs);
        try
        {
            foreach (var c in net.Clients)
                using (var f = File.Create(Target(c))) f.SetLength(img.ImageBytes);
            var done = new Dictionary<string, TimeSpan>();
            var started = new Dictionary<string, TimeSpan>();
            var firstData = new Dictionary<string, TimeSpan>();
            var timeline = new List<string>();
            var cpu = CpuBusy.Sample();
            var t0 = net.Clock.Elapsed;
            var procs = net.Clients.Select(c =>
            {
                var p = net.StartBlockSwarm(c, "deploy " + c.Label, ["deploy", "--server", ServerUrl, "--target", Target(c), "--allow-file", "--yes", "--json",
                    "--listen", $"{c.Ip}:{BtPort}", "--id", c.Label, "--hostname", c.Label, "--max-seed", "600", .. variant.DeployArgs]);
                p.LineReceived += (line, t) =>
                {
                    if (line.Contains("\"event\":\"complete\"", StringComparison.Ordinal)) lock (done) done.TryAdd(c.Label, t);
                    else if (line.Contains("\"event\":\"start\"", StringComparison.Ordinal)) lock (done) started.TryAdd(c.Label, t);
                    else if (line.Contains("\"event\":\"progress\"", StringComparison.Ordinal))
                    {
                        var have = System.Text.RegularExpressions.Regex.Match(line, "\"bytesHave\":(\\d+)").Groups[1].Value;
                        lock (done)
                        {
                            timeline.Add(string.Create(CultureInfo.InvariantCulture, $"{c.Label},{(t - t0).TotalSeconds:0.000},{have}"));
                            if (have != "0") firstData.TryAdd(c.Label, t);
                        }
                    }
                };
                return p;
            }).ToList();
            if (variant.Args.Length > 0) log($"  {serve.CommandLine}\n  {procs[0].CommandLine}");
            await Eventually.UntilAsync(() =>
            {
                lock (done) if (done.Count == procs.Count) return true;
                var failed = procs.FirstOrDefault(p => p.HasExited && p.ExitCode != 0);
                if (failed != null) throw new InvalidOperationException($"{failed.Label} exited {failed.ExitCode}\n{failed.Tail(30)}");
                return false;
            }, Timeout(img), $"all {procs.Count} BlockSwarm clients to complete", () =>
            {
                RunningProcess? stuck;
                lock (done) stuck = procs.FirstOrDefault(p => !done.ContainsKey(p.Label["deploy ".Length..]));
                lock (done) return $"{done.Count}/{procs.Count} complete\n{stuck?.Label}:\n{stuck?.Tail(12)}\nserve:\n{serve.Tail(12)}";
            }, TimeSpan.FromMilliseconds(100));
            var seconds = done.Values.Max().TotalSeconds - t0.TotalSeconds;
            double busy = cpu.BusyFractionSince();
            static string Spread(IEnumerable<TimeSpan> ts, TimeSpan t0)
            {
                var s = ts.Select(t => (t - t0).TotalSeconds).Order().ToArray();
                return s.Length == 0 ? "-" : $"{s[0]:0.0}/{s[s.Length / 2]:0.0}/{s[^1]:0.0} s";
            }
            lock (done)
                log($"  clients up (min/median/max) {Spread(started.Values, t0)}, first piece {Spread(firstData.Values, t0)}, complete {Spread(done.Values, t0)}; CPU busy {busy:P0} of {Environment.ProcessorCount} cores");
            // Last status reports arrive every second or two.
            await Task.Delay(2500);
            var snap = JsonNode.Parse(net.HttpGet(net.Server, ServerUrl + "/api/clients") ?? "{}")!;
            var per = new List<ClientResult>();
            foreach (var c in net.Clients)
            {
                var r = snap["clients"]?.AsArray().FirstOrDefault(x => (string?)x?["id"] == c.Label)?["report"];
                per.Add(new ClientResult(c.Label, (done[c.Label] - t0).TotalSeconds,
                    (long?)r?["downloaded"] ?? -1, (long?)r?["uploaded"] ?? -1, (long?)r?["fromOrigin"] ?? -1));
            }
            var totals = snap["totals"];
            // Per-client progress over time (deploy --json prints it every 1.5 s), for ramp-up/steady/tail analysis.
            if (Environment.GetEnvironmentVariable("LAB_TIMELINE_DIR") is { Length: > 0 } tdir)
                lock (done) File.WriteAllLines(System.IO.Path.Combine(tdir, $"timeline-{img.Kind}-n{net.Clients.Count}-{net.RateMbit}mbit{RunSuffix(variant)}.csv"), ["client,seconds,bytesHave", .. timeline]);
            if (img.Kind == "random") VerifySame(img.Path, net.Clients.Select(Target));
            double lastUp;
            lock (done) lastUp = started.Count == 0 ? double.NaN : started.Values.Max().TotalSeconds - t0.TotalSeconds;
            return Result(variant.SystemName, img, seconds, per, (long?)totals?["originUploaded"] ?? -1, (long?)totals?["peerUploaded"] ?? -1) with { LastClientUpSeconds = lastUp };
        }
        finally
        {
            foreach (var p in net.Processes) p.Kill();
        }
    }

    /// <summary>Unicast: python's threading HTTP server sends the whole image to all N curl clients at once.</summary>
    public async Task<RunResult> UnicastAsync(LabImage img)
    {
        CleanTargets();
        var server = net.Start(net.Server, "http.server", "/usr/bin/python3", ["-m", "http.server", "--bind", net.Server.Ip, "--directory", img.PlainDir, "8000"]);
        try
        {
            await net.WaitListeningAsync(net.Server, 8000, server, TimeSpan.FromSeconds(30));
            var url = $"http://{net.Server.Ip}:8000/{System.IO.Path.GetFileName(img.Path)}";
            var t0 = net.Clock.Elapsed;
            var procs = net.Clients.Select(c => (c, p: net.Start(c, "curl " + c.Label, "curl", ["-sSf", "-o", Target(c), url]))).ToList();
            var per = new List<ClientResult>();
            foreach (var (c, p) in procs)
            {
                var rc = await p.WaitForExitAsync(Timeout(img));
                if (rc != 0) throw new InvalidOperationException($"curl {c.Label} exited {rc}\n{p.Output}");
                per.Add(new ClientResult(c.Label, (p.ExitedAt ?? net.Clock.Elapsed).TotalSeconds - t0.TotalSeconds, img.ImageBytes, 0, img.ImageBytes));
            }
            VerifySame(img.Path, net.Clients.Select(Target));
            return Result("unicast HTTP", img, per.Max(x => x.Seconds), per, img.ImageBytes * net.Clients.Count, 0);
        }
        finally
        {
            foreach (var p in net.Processes) p.Kill();
        }
    }

    /// <summary>A python3-libtorrent swarm (1 seeder on the server, N leechers) announcing to BlockSwarm's embedded tracker.</summary>
    /// <remarks>lt.py with libtorrent's defaults (TCP only, no DHT/LSD): the seeder trusts its data, leechers keep seeding once complete.</remarks>
    public Task<RunResult> LibtorrentAsync(LabImage img) => StandardSwarmAsync(img, "libtorrent",
        (host, dir, seed) =>
        {
            var listen = $"{host.Ip}:{PlainPort.ToString(CultureInfo.InvariantCulture)}";
            string[] args = seed ? [img.PlainTorrent!, dir, "--listen", listen, "--skip-check"]
                : [img.PlainTorrent!, dir, "--listen", listen, "--linger", "forever", "--timeout", "86400"];
            return net.Start(host, "libtorrent " + host.Label, Tool.SystemPython, [LtScript.Path, seed ? "seed" : "fetch", .. args]);
        },
        "] complete");

    /// <summary>An aria2c swarm (1 seeder on the server, N leechers) announcing to BlockSwarm's embedded tracker.</summary>
    public Task<RunResult> Aria2Async(LabImage img) => StandardSwarmAsync(img, "aria2c",
        (host, dir, seed) =>
        {
            var hook = System.IO.Path.Combine(workDir, "aria2-done.sh");
            if (!File.Exists(hook))
            {
                File.WriteAllText(hook, "#!/bin/sh\necho \"LAB-COMPLETE $3\" >&2\n");
                if (OperatingSystem.IsLinux()) File.SetUnixFileMode(hook, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            return net.Start(host, "aria2c " + host.Label, "aria2c", ["--dir=" + dir, "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--seed-ratio=0.0", "--listen-port=" + PlainPort.ToString(CultureInfo.InvariantCulture), "--file-allocation=none",
                "--summary-interval=0", "--console-log-level=warn", "--check-integrity=" + (seed ? "true" : "false"),
                "--on-bt-download-complete=" + hook, "--bt-max-peers=0", "--max-overall-upload-limit=0", img.PlainTorrent!]);
        },
        "LAB-COMPLETE");

    private async Task<RunResult> StandardSwarmAsync(LabImage img, string name, Func<LanHost, string, bool, RunningProcess> start, string completeMarker)
    {
        if (img.PlainTorrent == null) throw new InvalidOperationException("no plain torrent for this image");
        CleanTargets();
        await StartServeAsync(img); // only its tracker is used: the plain torrent has another info-hash
        try
        {
            var seeder = start(net.Server, img.PlainDir, true);
            if (name == "libtorrent") await seeder.WaitForOutputAsync("] seeding", TimeSpan.FromSeconds(120));
            else await net.WaitListeningAsync(net.Server, PlainPort, seeder, TimeSpan.FromSeconds(120));
            var done = new Dictionary<string, TimeSpan>();
            var t0 = net.Clock.Elapsed;
            var procs = net.Clients.Select(c =>
            {
                var dir = System.IO.Path.Combine(workDir, c.Label);
                Directory.CreateDirectory(dir);
                var p = start(c, dir, false);
                p.LineReceived += (line, t) =>
                {
                    if (line.Contains(completeMarker, StringComparison.Ordinal)) lock (done) done.TryAdd(c.Label, t);
                };
                return p;
            }).ToList();
            await Eventually.UntilAsync(() =>
            {
                lock (done)
                {
                    if (done.Count == procs.Count) return true;
                    var failed = procs.FirstOrDefault(p => p.HasExited && !done.ContainsKey(p.Label.Split(' ')[1]));
                    if (failed != null) throw new InvalidOperationException($"{failed.Label} exited {failed.ExitCode}\n{failed.Tail(30)}");
                    return false;
                }
            }, Timeout(img), $"all {procs.Count} {name} clients to complete", () => { lock (done) return $"{done.Count}/{procs.Count} complete"; },
                TimeSpan.FromMilliseconds(100));
            var per = net.Clients.Select(c => new ClientResult(c.Label, (done[c.Label] - t0).TotalSeconds, img.ImageBytes, -1, -1)).ToList();
            VerifySame(img.Path, net.Clients.Select(c => System.IO.Path.Combine(workDir, c.Label, System.IO.Path.GetFileName(img.Path))));
            return Result(name, img, per.Max(x => x.Seconds), per, -1, -1);
        }
        finally
        {
            foreach (var p in net.Processes) p.Kill();
        }
    }

    /// <summary>
    /// UDPcast: one multicast sender, N receivers (the bridge floods the group to every port), sending the image's used
    /// data (F), or with <paramref name="zstd"/> its zstd -3 stream (Z) that each receiver pipes through <c>zstd -d</c>
    /// into its target, as Clonezilla's multicast restore sends a compressed image. The sender paces itself just under
    /// the slowest client's link: udpcast has no congestion control, and every receiver must get every slice.
    /// </summary>
    public async Task<RunResult> UdpcastAsync(LabImage img, bool zstd = false)
    {
        if (!Tool.Exists("udp-sender")) throw new InvalidOperationException("udpcast is not installed: apt-get install udpcast");
        var used = img.UsedPath ?? throw new InvalidOperationException($"{img.Kind}: no used-data stream to multicast");
        var send = zstd ? img.CompressedPath ?? throw new InvalidOperationException($"{img.Kind}: no zstd stream to multicast") : used;
        CleanTargets();
        try
        {
            const string receive = "udp-receiver --interface eth0 --nokbd";
            var t0 = net.Clock.Elapsed;
            var receivers = net.Clients.Select(c => (c, p: net.Start(c, "udp-receiver " + c.Label, "/bin/bash",
                ["-c", zstd ? $"set -o pipefail; {receive} | zstd -d -q -c > \"$0\"" : $"exec {receive} --file \"$0\"", Target(c)]))).ToList();
            await Task.Delay(300);
            var bitrate = ((long)(net.SlowestClientRateMbit * 0.95e6)).ToString(CultureInfo.InvariantCulture);
            var sender = net.Start(net.Server, "udp-sender", "udp-sender", ["--interface", "eth0", "--nokbd", "--min-receivers",
                net.Clients.Count.ToString(CultureInfo.InvariantCulture), "--max-bitrate", bitrate, "--file", send]);
            long sent = new FileInfo(send).Length;
            var per = new List<ClientResult>();
            foreach (var (c, p) in receivers)
            {
                var rc = await p.WaitForExitAsync(Timeout(img));
                if (rc != 0) throw new InvalidOperationException($"{p.Label} exited {rc}\n{p.Output}");
                per.Add(new ClientResult(c.Label, (p.ExitedAt ?? net.Clock.Elapsed).TotalSeconds - t0.TotalSeconds, sent, 0, sent));
            }
            await sender.WaitForExitAsync(TimeSpan.FromSeconds(30));
            VerifySame(used, net.Clients.Select(Target));
            return Result(zstd ? "UDPcast multicast, zstd -3" : "UDPcast multicast", img, per.Max(x => x.Seconds), per, sent, 0);
        }
        finally
        {
            foreach (var p in net.Processes) p.Kill();
        }
    }

    private void VerifySame(string source, IEnumerable<string> copies)
    {
        foreach (var c in copies)
        {
            var r = Tool.Run("cmp", [source, c], check: false);
            if (r.ExitCode != 0) throw new InvalidOperationException($"{c} differs from {source}: {r.StdOut}{r.StdErr}");
        }
        log("  every copy is bit-exact");
    }
}

/// <summary>System-wide CPU use from /proc/stat: tells whether a run measured the links or the lab's 2 cores.</summary>
internal readonly record struct CpuBusy(long Busy, long Total)
{
    public static CpuBusy Sample()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        long idle = f[3] + (f.Length > 4 ? f[4] : 0); // idle + iowait
        long total = f.Take(8).Sum();
        return new CpuBusy(total - idle, total);
    }

    public double BusyFractionSince()
    {
        var now = Sample();
        long total = now.Total - Total;
        return total <= 0 ? 0 : (double)(now.Busy - Busy) / total;
    }
}
