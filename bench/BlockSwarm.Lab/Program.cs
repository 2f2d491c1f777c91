using System.Globalization;
using System.Text.Json;
using BlockSwarm.Lab;
using BlockSwarm.Testing;

// blockswarm-lab: the swarm lab (see docs/benchmarks.md); Usage below says what each command takes.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
const string Usage = """
    usage: blockswarm-lab bench [--images random,ext4] [--image-mib 128] [--ext4-mib 256] [--os-mib 1024] [--cache /tmp/blockswarm-lab]
                                [--rate-mbit 100] [--clients 1,2,4,8,16] [--slow-client-factor 0]
                                [--systems blockswarm,unicast,libtorrent,aria2,udpcast] [--blockswarm-args "ARGS[;ARGS…]"]
                                [--unicast-max-n 16] [--out DIR]
             --images         random, ext4 (half full of random files), os-ext4, os-ntfs (--os-mib of this machine's /usr;
                              built once, kept under --cache)
             --systems        blockswarm, unicast, libtorrent, aria2 (these three: random image only), udpcast (the used
                              data), udpcast-zstd (the used data compressed with zstd -3, zstd -d on each receiver)
             --slow-client-factor K   also run every N with the last client's link at c/K (the heterogeneous room)
             --blockswarm-args        options for serve and deploy; serve:X or deploy:X for one of them; ';' between
                                      variants, each its own system ("BlockSwarm [ARGS]"), an empty one the plain run
           blockswarm-lab images [--images …] [--image-mib 128] [--ext4-mib 256] [--os-mib 1024] [--cache /tmp/blockswarm-lab]
                              builds (or finds in the cache) bench's images and prints F and Z of each
           blockswarm-lab ezio [--used-mib 1024] [--rate-mbit 500] [--clients 4] [--reps 2] [--cache-mib 64]
                              issue 15's Clonezilla session: EZIO daemons against seed/fetch (EzioSession.cs)
           blockswarm-lab secret [--clients 4] [--rate-mbit 100] [--image-mib 128] [--reps 2] [--out docs]
                              issue 18's secret swarm: an outsider host (python3-libtorrent, a fetch with another secret)
                              gets no byte, a rogue serve with another key is refused by every deploy, every copy bit-exact;
                              then plain and secret deployments timed, interleaved (SecretSwarmScenario.cs); writes secret-lab.json
           blockswarm-lab net [--clients 32] [--rate-mbit 10]
                              builds the LAN, has every client fetch a page from the server, tears it down; times each
           blockswarm-lab chart --data results.json --out chart.png
           blockswarm-lab proxy --listen IP:PORT --to IP:PORT [--max-delay-ms 20] [--reset-every-bytes B] [--max-flips K]
                              [--flip-after-bytes B] [--seed S]
    """ + "\n" + SimulateCommand.Usage + "\n" + """
           blockswarm-lab clean   removes lab (bslab-PID-…) and test (bs-PURPOSE-PID-…) namespaces left by dead processes
    """;
string[] allSystems = ["blockswarm", "unicast", "libtorrent", "aria2", "udpcast", "udpcast-zstd"];
var cmd = args.Length > 0 ? args[0] : "help";
var opts = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string Opt(string k, string d) => opts.TryGetValue(k, out var v) ? v : d;
void Log(string s) => Console.WriteLine(s);
var jsonOptions = new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
// The images (bench and images): on tmpfs, the disks of a 2-core VM would otherwise be the bottleneck, not the network.
var root = Path.Combine("/dev/shm", $"bslab-{Environment.ProcessId}");
var ext4Mib = int.Parse(Opt("ext4-mib", "256"), CultureInfo.InvariantCulture);
var imageKinds = Opt("images", ext4Mib > 0 ? "random,ext4" : "random").Split(',');
List<LabImage> MakeImages()
{
    Directory.CreateDirectory(root);
    var labImages = new LabImages(root, Path.GetFullPath(Opt("cache", "/tmp/blockswarm-lab")), Log);
    try
    {
        return [.. imageKinds.Select(k => labImages.Make(k, int.Parse(Opt("image-mib", "128"), CultureInfo.InvariantCulture), ext4Mib, int.Parse(Opt("os-mib", "1024"), CultureInfo.InvariantCulture)))];
    }
    finally
    {
        labImages.DeleteScratch();
    }
}
if (imageKinds.Except(LabImages.Kinds).FirstOrDefault() is { } unknownImage)
{
    Console.Error.Write($"unknown image '{unknownImage}'\n{Usage}");
    return 2;
}

switch (cmd)
{
    case "clean":
        LabNetwork.CleanStale(Log);
        return 0;
    case "chart":
        Report.Chart(JsonSerializer.Deserialize<List<RunResult>>(File.ReadAllText(Opt("data", "docs/benchmarks.json")), jsonOptions)!, Opt("out", "docs/benchmarks.png"));
        return 0;
    case "bench":
        break;
    case "images":
        try
        {
            MakeImages();
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    case "ezio":
        return await EzioLab.RunAsync(Opt, Log);
    case "simulate":
        return SimulateCommand.Run(Opt, Log);
    case "secret":
        return await SecretLab.RunAsync(Opt, Log);
    case "net":
        return await LabNetCheckAsync(int.Parse(Opt("clients", "32"), CultureInfo.InvariantCulture), double.Parse(Opt("rate-mbit", "10"), CultureInfo.InvariantCulture));
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
        Console.Error.Write(Usage);
        return 2;
}

if (LabNetwork.Unavailable() is { } why) { Console.Error.WriteLine(why); return 1; }
var rate = double.Parse(Opt("rate-mbit", "100"), CultureInfo.InvariantCulture);
var counts = Opt("clients", "1,2,4,8,16").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
var systems = Opt("systems", "blockswarm,unicast,libtorrent,aria2,udpcast").Split(',').ToHashSet();
var variants = BlockSwarmVariant.Parse(opts.GetValueOrDefault("blockswarm-args"));
var slowFactor = double.Parse(Opt("slow-client-factor", "0"), CultureInfo.InvariantCulture);
var unicastMax = int.Parse(Opt("unicast-max-n", "16"), CultureInfo.InvariantCulture); // unicast takes N·F/c: cap it to keep the run short
if (systems.Except(allSystems).FirstOrDefault() is { } unknownSystem)
{
    Console.Error.Write($"unknown system '{unknownSystem}'\n{Usage}");
    return 2;
}
if (slowFactor is > 0 and <= 1) { Console.Error.WriteLine("--slow-client-factor must be above 1 (the slow link is c ÷ it), or 0 for none"); return 2; }
var outDir = Path.GetFullPath(Opt("out", "docs"));
Directory.CreateDirectory(outDir);

var results = new List<RunResult>();
var jsonOut = Path.Combine(outDir, "benchmarks.json");
try
{
    var images = MakeImages();
    foreach (var n in counts)
    {
        // Every client's copy lives on the same tmpfs as the images (targets are sparse: the used data is written).
        long need = n * images.Max(i => i.PayloadBytes) + (64L << 20);
        if (new DriveInfo(root).AvailableFreeSpace is var free && free < need)
            throw new IOException($"N={n}: the clients' copies need {need >> 20} MiB on {root}'s tmpfs, {free >> 20} MiB free: smaller images or fewer clients");
        using var net = LabNetwork.Create(n, rate, Log);
        Log($"== N={n}: lab {net.Id}, links {rate} Mbit/s both ways");
        var work = Path.Combine(root, "targets");
        Directory.CreateDirectory(work);
        var runners = new Runners(net, work, Log);
        foreach (var slow in slowFactor > 1 ? [false, true] : new[] { false })
        {
            if (slow)
            {
                net.SetRate(net.Clients[^1], rate / slowFactor);
                Log($"== N={n}: the heterogeneous room, {net.Clients[^1].Label} at {rate / slowFactor:0.###} Mbit/s (c/{slowFactor:0.##})");
            }
            foreach (var img in images)
            {
                var plan = variants.Select(v => ("blockswarm", v.SystemName, (Func<Task<RunResult>>)(() => runners.BlockSwarmAsync(img, v)))).ToList();
                if (img.Kind == "random")
                {
                    if (n <= unicastMax) plan.Add(("unicast", "unicast HTTP", () => runners.UnicastAsync(img)));
                    plan.Add(("libtorrent", "libtorrent", () => runners.LibtorrentAsync(img)));
                    plan.Add(("aria2", "aria2c", () => runners.Aria2Async(img)));
                }
                plan.Add(("udpcast", "UDPcast multicast", () => runners.UdpcastAsync(img)));
                plan.Add(("udpcast-zstd", "UDPcast multicast, zstd -3", () => runners.UdpcastAsync(img, zstd: true)));
                foreach (var (key, name, run) in plan.Where(p => systems.Contains(p.Item1)))
                {
                    RunResult r;
                    try
                    {
                        r = await run();
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
                    {
                        Log($"  {name} on {img.Kind} N={n} FAILED: {ex.Message}");
                        r = runners.Failed(name, img, ex.Message.Split('\n')[0]);
                    }
                    results.Add(r);
                    Log("  " + Report.Line(r));
                    File.WriteAllText(jsonOut, JsonSerializer.Serialize(results, jsonOptions));
                }
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

// The LAN alone at N clients: how long building and tearing it down take, and that every client reaches the server.
async Task<int> LabNetCheckAsync(int clients, double rateMbit)
{
    if (LabNetwork.Unavailable() is { } reason) { Console.Error.WriteLine(reason); return 1; }
    var sw = System.Diagnostics.Stopwatch.StartNew();
    var net = LabNetwork.Create(clients, rateMbit, Log);
    try
    {
        Log($"lab {net.Id}: server {net.Server.Ip} and {clients} clients ({net.Clients[0].Ip} … {net.Clients[^1].Ip}), links {rateMbit} Mbit/s both ways: built in {sw.Elapsed.TotalSeconds:0.0} s");
        sw.Restart();
        var server = net.Start(net.Server, "http.server", Tool.SystemPython, ["-m", "http.server", "--bind", net.Server.Ip, "8000"]);
        await net.WaitListeningAsync(net.Server, 8000, server, TimeSpan.FromSeconds(30));
        var silent = net.Clients.Where(c => net.HttpGet(c, $"http://{net.Server.Ip}:8000/") == null).Select(c => c.Label).ToList();
        Log($"HTTP from every client to the server: {clients - silent.Count}/{clients} answered in {sw.Elapsed.TotalSeconds:0.0} s" + (silent.Count > 0 ? $"; no answer: {string.Join(' ', silent)}" : ""));
        return silent.Count == 0 ? 0 : 1;
    }
    finally
    {
        sw.Restart();
        net.Dispose();
        Log($"torn down in {sw.Elapsed.TotalSeconds:0.0} s");
    }
}
