using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BlockSwarm.Lab;
using BlockSwarm.Testing;

// blockswarm-lab: the swarm lab (see docs/benchmarks.md).
//   blockswarm-lab bench [--image-mib 128] [--ext4-mib 256] [--rate-mbit 100] [--clients 1,2,4,8,16]
//                        [--systems blockswarm,unicast,libtorrent,aria2,udpcast] [--out DIR]
//   blockswarm-lab ezio [--used-mib 1024] [--rate-mbit 500] [--clients 4] [--reps 2] [--cache-mib 64]
//                        issue 15's Clonezilla session: EZIO daemons against seed/fetch (EzioSession.cs)
//   blockswarm-lab chart --data results.json --out chart.png
//   blockswarm-lab proxy --listen IP:PORT --to IP:PORT [--max-delay-ms 20] [--reset-every-bytes B] [--max-flips K] [--flip-after-bytes B] [--seed S]
//   blockswarm-lab clean              removes lab (bslab-PID-…) and test (bs-PURPOSE-PID-…) namespaces left by dead processes
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var cmd = args.Length > 0 ? args[0] : "help";
var opts = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string Opt(string k, string d) => opts.TryGetValue(k, out var v) ? v : d;
void Log(string s) => Console.WriteLine(s);

switch (cmd)
{
    case "clean":
        LabNetwork.CleanStale(Log);
        return 0;
    case "chart":
        Report.Chart(JsonSerializer.Deserialize<List<RunResult>>(File.ReadAllText(Opt("data", "docs/benchmarks.json")), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })!, Opt("out", "docs/benchmarks.png"));
        return 0;
    case "bench":
        break;
    case "ezio":
        return await EzioLab.RunAsync(Opt, Log);
    case "proxy":
        {
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            var proxy = new FaultProxy(System.Net.IPEndPoint.Parse(Opt("listen", "")), System.Net.IPEndPoint.Parse(Opt("to", "")),
                int.Parse(Opt("max-delay-ms", "20"), CultureInfo.InvariantCulture), long.Parse(Opt("reset-every-bytes", "0"), CultureInfo.InvariantCulture),
                int.Parse(Opt("max-flips", "0"), CultureInfo.InvariantCulture), long.Parse(Opt("flip-after-bytes", "0"), CultureInfo.InvariantCulture),
                int.Parse(Opt("seed", "1"), CultureInfo.InvariantCulture));
            try { await proxy.RunAsync(stop.Token); } catch (OperationCanceledException) { }
            return 0;
        }
    default:
        Console.Error.WriteLine("usage: blockswarm-lab bench [--image-mib 128] [--ext4-mib 256] [--rate-mbit 100] [--clients 1,2,4,8,16] [--systems blockswarm,unicast,libtorrent,aria2,udpcast] [--unicast-max-n 16] [--out DIR]\n       blockswarm-lab ezio [--used-mib 1024] [--rate-mbit 500] [--clients 4] [--reps 2] [--cache-mib 64]\n       blockswarm-lab chart --data FILE --out PNG\n       blockswarm-lab clean");
        return 2;
}

if (LabNetwork.Unavailable() is { } why) { Console.Error.WriteLine(why); return 1; }
var rate = double.Parse(Opt("rate-mbit", "100"), CultureInfo.InvariantCulture);
var imageMib = int.Parse(Opt("image-mib", "128"), CultureInfo.InvariantCulture);
var ext4Mib = int.Parse(Opt("ext4-mib", "256"), CultureInfo.InvariantCulture);
var counts = Opt("clients", "1,2,4,8,16").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
var systems = Opt("systems", "blockswarm,unicast,libtorrent,aria2,udpcast").Split(',').ToHashSet();
var unicastMax = int.Parse(Opt("unicast-max-n", "16"), CultureInfo.InvariantCulture); // unicast takes N·F/c: cap it to keep the run short
var outDir = Path.GetFullPath(Opt("out", "docs"));
Directory.CreateDirectory(outDir);

// Everything on tmpfs: the disks of a 2-core VM would otherwise be the bottleneck, not the network.
var root = Path.Combine("/dev/shm", $"bslab-{Environment.ProcessId}");
Directory.CreateDirectory(root);
var results = new List<RunResult>();
var jsonOut = Path.Combine(outDir, "benchmarks.json");
try
{
    var images = new List<LabImage> { Images.Random(root, imageMib, Log) };
    if (ext4Mib > 0) images.Add(Images.Ext4(root, ext4Mib, Log));
    foreach (var n in counts)
    {
        using var net = LabNetwork.Create(n, rate, Log);
        Log($"== N={n}: lab {net.Id}, links {rate} Mbit/s both ways");
        var work = Path.Combine(root, "targets");
        Directory.CreateDirectory(work);
        var runners = new Runners(net, work, Log);
        foreach (var img in images)
        {
            var plan = new List<(string, Func<Task<RunResult>>)> { ("blockswarm", () => runners.BlockSwarmAsync(img)) };
            if (img.Kind == "random")
            {
                if (n <= unicastMax) plan.Add(("unicast", () => runners.UnicastAsync(img)));
                plan.Add(("libtorrent", () => runners.LibtorrentAsync(img)));
                plan.Add(("aria2", () => runners.Aria2Async(img)));
                plan.Add(("udpcast", () => runners.UdpcastAsync(img)));
            }
            foreach (var (key, run) in plan.Where(p => systems.Contains(p.Item1)))
            {
                RunResult r;
                try
                {
                    r = await run();
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
                {
                    Log($"  {key} on {img.Kind} N={n} FAILED: {ex.Message}");
                    r = new RunResult(key, img.Kind, n, img.PayloadBytes, rate, double.NaN, [], -1, -1, ex.Message.Split('\n')[0]);
                }
                results.Add(r);
                Log($"  {r.System,-18} {img.Kind,-6} N={n,2}: T={r.Seconds,7:0.00} s  F/c={r.FloorSeconds,6:0.00} s  T/(F/c)={r.Ratio,5:0.00}"
                    + (r.OriginUploaded > 0 && r.System == "BlockSwarm" ? $"  origin sent {r.OriginUploaded / (double)r.Bytes:0.00}×F, peers {r.PeerUploaded / (double)r.Bytes:0.00}×F" : ""));
                File.WriteAllText(jsonOut, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            }
        }
    }
}
finally
{
    try { Directory.Delete(root, recursive: true); } catch (IOException) { }
}
Report.Chart(results, Path.Combine(outDir, "benchmarks.png"));
Console.WriteLine(Report.Table(results));
return 0;

internal static class Images
{
    public static LabImage Random(string root, int mib, Action<string> log)
    {
        var dir = Path.Combine(root, "plain");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "random.img");
        using (var f = File.Create(path))
        {
            var buf = new byte[1 << 20];
            for (int i = 0; i < mib; i++) { RandomNumberGenerator.Fill(buf); f.Write(buf); }
        }
        log($"random image: {mib} MiB");
        return Finish("random", path, root, dir, "all", log);
    }

    /// <summary>An ext4 filesystem about half full of random files; BlockSwarm sends only its used blocks.</summary>
    public static LabImage Ext4(string root, int mib, Action<string> log)
    {
        var tree = ContentTree.Random(Path.Combine(root, "ext4-tree"), mib, Enumerable.Range(0, mib / 2 / 4).Select(i => ($"file{i:000}.bin", 4 << 20)));
        var path = FsImage.Ext4(Path.Combine(root, "ext4.img"), (long)mib << 20, tree, ["-b", "4096"]);
        Directory.Delete(tree, recursive: true);
        log($"ext4 image: {mib} MiB, half full");
        return Finish("ext4", path, root, null, "auto", log);
    }

    private static LabImage Finish(string kind, string path, string root, string? plainDir, string map, Action<string> log)
    {
        var torrent = Path.Combine(root, kind + ".torrent");
        var (createFile, createArgs) = CliCommand.For(LabNetwork.Cli, ["create", "--source", path, "--map", map, "--output", torrent]);
        Tool.Run(createFile, createArgs, timeout: TimeSpan.FromMinutes(10));
        var (inspectFile, inspectArgs) = CliCommand.For(LabNetwork.Cli, ["inspect", torrent, "--json"]);
        var info = JsonNode.Parse(Tool.Run(inspectFile, inspectArgs).StdOut)!;
        long payload = (long)info["totalLength"]!;
        long piece = (long)info["pieceLength"]!;
        string? plain = null;
        if (plainDir != null)
        {
            // Same data, same piece size, another info-hash: standard clients get their own swarm on our tracker.
            plain = Path.Combine(root, kind + "-plain.torrent");
            LtScript.Create(path, plain, piece, $"http://{LabNetwork.Subnet}.1:8080/announce");
        }
        log($"  {kind}: {payload} payload bytes in {(long)info["pieceCount"]!} pieces of {piece >> 10} KiB");
        return new LabImage(kind, path, torrent, payload, new FileInfo(path).Length, plain, plainDir ?? Path.GetDirectoryName(path)!);
    }
}
