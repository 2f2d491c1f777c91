using System.Globalization;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>One run of the Clonezilla session: how long until every client held every partition, and the clients' peak RSS.</summary>
public sealed record SessionRun(string Mode, int Rep, double Seconds, double[] ClientSeconds, long[] ClientPeakRss);

/// <summary>
/// <c>blockswarm-lab ezio</c>: issue 15's Clonezilla session on the lab's switched LAN, run the EZIO way and the
/// <c>seed</c>/<c>fetch</c> way in the same lab, interleaved (ABBA), on the same torrents. The image side is Clonezilla's
/// (<see cref="ClonezillaBtZone"/>: partclone-saved partitions, <c>-r -T</c> slices in btzone, one torrent per partition
/// from its torrent.info, one opentracker per partition on the server). Then either
/// <list type="bullet">
/// <item>daemons, as ocs-ezio-seeder and ocs-ezio-leecher run them: on the server <c>ezio -F</c> with every torrent added
/// in seeding mode, save path <c>btzone/IMG</c>; on each client <c>ezio</c> with its partitions added (the image files
/// standing for /dev/sdaN), then polled until finished; all through ezio_client.py on each host's 127.0.0.1:50051,
/// max_uploads 5 and max_connections 6; or</item>
/// <item>processes: <c>blockswarm seed --files</c> of the same directory on the server, one <c>blockswarm fetch</c> of
/// both torrents per client, <c>--max-peers 6</c>.</item>
/// </list>
/// Time runs from the first add (or the fetches' start) to the last client holding everything; every client keeps
/// seeding until then. Targets are checked byte for byte against the source partitions.
/// </summary>
public sealed class EzioSession(LabNetwork net, string root, int cacheMiB, Action<string> log)
{
    private const string Grpc = "127.0.0.1:50051";
    private const int GrpcPort = 50051, BtPort = 6881, TrackerPort = 6969;
    private readonly string _imageDir = Path.Combine(root, "partimag", "lab-img");
    private readonly string _btDir = Path.Combine(root, "partimag", "btzone", "lab-img");
    private readonly string _stubs = Path.Combine(root, "stubs");
    private BtPartition[] _parts = [];
    private string[] _hashes = [];

    public long PayloadBytes { get; private set; }

    private string Cache => cacheMiB.ToString(CultureInfo.InvariantCulture);

    private static TimeSpan Timeout => TimeSpan.FromMinutes(15);

    private string Target(LanHost c, BtPartition p) => Path.Combine(root, "targets", $"{c.Label}-{p.Name}.img");

    /// <summary>Each client daemon's checkpoints (a raw-disk target has no place for one; all the clients share this machine's /tmp).</summary>
    private string ResumeDir(LanHost c) => Path.Combine(root, "targets", "resume-" + c.Label);

    /// <summary>
    /// The source disk (an ext4 system partition with 7/8 of <paramref name="usedMib"/> in random files, a FAT32 data
    /// partition with the rest), saved, sliced and turned into torrents as Clonezilla does.
    /// </summary>
    public void Prepare(int usedMib)
    {
        EzioPy.Generate(_stubs);
        int sda2Mib = Math.Max(16, usedMib / 8), sda1Mib = usedMib - sda2Mib;
        var tree1 = ContentTree.Random(Path.Combine(root, "sda1.content"), 1, Enumerable.Range(0, sda1Mib / 32).Select(i => ($"usr/f{i:000}.bin", 32 << 20)));
        var sda1 = FsImage.Ext4(Path.Combine(root, "sda1.img"), (sda1Mib + sda1Mib / 8 + 64L) << 20, tree1, ["-b", "4096"]);
        Directory.Delete(tree1, recursive: true);
        var tree2 = ContentTree.Random(Path.Combine(root, "sda2.content"), 2, Enumerable.Range(0, sda2Mib / 8).Select(i => ($"data/d{i:00}.bin", 8 << 20)));
        var sda2 = FsImage.Fat(Path.Combine(root, "sda2.img"), (sda2Mib + sda2Mib / 4 + 40L) << 20, 32, tree2);
        Directory.Delete(tree2, recursive: true);
        log($"source disk: sda1 ext4 {new FileInfo(sda1).Length >> 20} MiB ({sda1Mib} MiB of files), sda2 FAT32 {new FileInfo(sda2).Length >> 20} MiB ({sda2Mib} MiB of files)");
        _parts = [ClonezillaBtZone.Prepare("sda1", "ext4", sda1, _imageDir, _btDir), ClonezillaBtZone.Prepare("sda2", "vfat", sda2, _imageDir, _btDir)];
        // The saved images are not needed past slicing (tmpfs is memory).
        foreach (var p in _parts) File.Delete(p.PartcloneImage);
        _hashes = [.. _parts.Select((p, i) => ClonezillaBtZone.MakeTorrent(LabNetwork.Cli, p, $"http://{net.Server.Ip}:{TrackerPort + 2 * i}/announce"))];
        PayloadBytes = _parts.Sum(p => Directory.EnumerateFiles(p.SliceDir).Sum(f => new FileInfo(f).Length));
        log($"btzone: {string.Join(", ", _parts.Select((p, i) => $"{p.Name} {Directory.EnumerateFiles(p.SliceDir).Count()} slices, {_hashes[i][..8]}…"))}; {PayloadBytes >> 20} MiB to send");
    }

    /// <summary>Both ways, <paramref name="reps"/> times each, in the order daemon, fetch, fetch, daemon, …</summary>
    public async Task<List<SessionRun>> RunAsync(int reps)
    {
        var runs = new List<SessionRun>();
        for (int r = 0; r < reps; r++)
            foreach (var daemons in r % 2 == 0 ? new[] { true, false } : [false, true])
            {
                var run = daemons ? await DaemonsAsync(r) : await ProcessesAsync(r);
                log($"  {run.Mode,-13} rep {r + 1}: {run.Seconds,6:0.00} s (clients {string.Join(" ", run.ClientSeconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))}), " +
                    $"peak RSS {string.Join(" ", run.ClientPeakRss.Select(b => (b >> 20).ToString(CultureInfo.InvariantCulture)))} MiB");
                runs.Add(run);
            }
        return runs;
    }

    private List<RunningProcess> StartTrackers() =>
        [.. _parts.Select((p, i) => net.Server.Namespace.Start(ClonezillaBtZone.OpenTracker(net.Server.Ip, TrackerPort + 2 * i, _btDir, p.Name, [_hashes[i]])))];

    private void BlankTargets()
    {
        var dir = Path.Combine(root, "targets");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        foreach (var c in net.Clients)
        {
            Directory.CreateDirectory(ResumeDir(c));
            foreach (var p in _parts) FsImage.Blank(Target(c, p), new FileInfo(p.Source).Length);
        }
    }

    private RunningProcess StartEzio(LanHost host, string label, bool measure, params string[] args)
    {
        var ezio = Path.Combine(root, "ezio");
        // Clonezilla starts a program named ezio: the native CLI through a link of that name.
        if (!File.Exists(ezio) && !LabNetwork.Cli.EndsWith(".dll", StringComparison.Ordinal)) File.CreateSymbolicLink(ezio, LabNetwork.Cli);
        var (file, argv) = File.Exists(ezio) ? (ezio, args.ToList()) : CliCommand.For(LabNetwork.Cli, ["ezio", .. args]);
        return host.Namespace.Start(new ProcessSpec(file, argv) { Label = label, MeasureUsage = measure });
    }

    private ProcessResult Py(LanHost host, params string[] args) =>
        Tool.Run(EzioPy.Spec(_stubs, "ezio_client", args) with { Namespace = host.Namespace.Name }, timeout: TimeSpan.FromMinutes(2));

    private async Task<SessionRun> DaemonsAsync(int rep)
    {
        BlankTargets();
        var trackers = StartTrackers();
        var all = new List<RunningProcess>(trackers);
        try
        {
            for (int i = 0; i < trackers.Count; i++) await net.WaitListeningAsync(net.Server, TrackerPort + 2 * i, trackers[i], TimeSpan.FromSeconds(30));
            var server = StartEzio(net.Server, "ezio server", false, "-F", "--cache-size", "256");
            all.Add(server);
            await net.WaitListeningAsync(net.Server, GrpcPort, server, TimeSpan.FromSeconds(30));
            foreach (var p in _parts) Py(net.Server, Grpc, "add", p.Torrent, _btDir, "--seed", "--max-uploads", "5", "--max-connections", "6");
            Py(net.Server, [Grpc, "wait", "120", .. _hashes]);
            var clients = net.Clients.Select(c => StartEzio(c, "ezio " + c.Label, true, "--cache-size", Cache, "--resume-dir", ResumeDir(c))).ToList();
            all.AddRange(clients);
            for (int i = 0; i < clients.Count; i++) await net.WaitListeningAsync(net.Clients[i], GrpcPort, clients[i], TimeSpan.FromSeconds(30));

            // Each client adds its partitions, then polls until both are finished (exits then).
            var t0 = net.Clock.Elapsed;
            var drivers = net.Clients.Select(c => c.Namespace.Start(new ProcessSpec("/bin/bash", "-c", string.Join(" && ",
                _parts.Select(p => EzioPy.Shell(_stubs, Grpc, "add", p.Torrent, Target(c, p), "--max-uploads", "5", "--max-connections", "6"))
                    .Append(EzioPy.Shell(_stubs, [Grpc, "wait", "900", .. _hashes, "--poll", "0.1"])))) { Label = "clonezilla " + c.Label })).ToList();
            all.AddRange(drivers);
            var done = new double[drivers.Count];
            for (int i = 0; i < drivers.Count; i++)
            {
                int rc = await drivers[i].WaitForExitAsync(Timeout);
                if (rc != 0) throw new InvalidOperationException($"{drivers[i].Label} exited {rc}: {drivers[i].Tail(5)}\n{clients[i].Tail(20)}\nserver:\n{server.Tail(20)}");
                done[i] = (drivers[i].ExitedAt!.Value - t0).TotalSeconds;
            }
            // Everyone holds everything: Shutdown (flush, fsync) and the daemons exit 0.
            var rss = new long[clients.Count];
            for (int i = 0; i < clients.Count; i++)
            {
                Py(net.Clients[i], Grpc, "shutdown");
                if (await clients[i].WaitForExitAsync(TimeSpan.FromMinutes(2)) != 0) throw new InvalidOperationException($"{clients[i].Label} exited {clients[i].ExitCode}: {clients[i].Tail(20)}");
                rss[i] = clients[i].Usage().PeakRssBytes;
            }
            Py(net.Server, Grpc, "shutdown");
            await server.WaitForExitAsync(TimeSpan.FromMinutes(1));
            Verify();
            return new SessionRun("ezio daemons", rep, done.Max(), done, rss);
        }
        finally
        {
            foreach (var p in all) p.Kill();
        }
    }

    private async Task<SessionRun> ProcessesAsync(int rep)
    {
        BlankTargets();
        var trackers = StartTrackers();
        var all = new List<RunningProcess>(trackers);
        try
        {
            for (int i = 0; i < trackers.Count; i++) await net.WaitListeningAsync(net.Server, TrackerPort + 2 * i, trackers[i], TimeSpan.FromSeconds(30));
            var seedArgs = new List<string> { "seed", "--files", "--listen", $"{net.Server.Ip}:{BtPort}", "--max-peers", "6" };
            foreach (var p in _parts) seedArgs.AddRange(["--torrent", p.Torrent, "--source", _btDir]);
            var seed = net.StartBlockSwarm(net.Server, "seed", seedArgs);
            all.Add(seed);
            await net.WaitListeningAsync(net.Server, BtPort, seed, TimeSpan.FromSeconds(60));

            var t0 = net.Clock.Elapsed;
            var done = new TimeSpan?[net.Clients.Count];
            var fetches = net.Clients.Select((c, i) =>
            {
                var args = new List<string> { "fetch", "--listen", $"{c.Ip}:{BtPort}", "--max-peers", "6", "--cache", cacheMiB + "MiB", "--seed-after", "900" };
                foreach (var p in _parts) args.AddRange(["--torrent", p.Torrent, "--target", Target(c, p)]);
                var (file, argv) = CliCommand.For(LabNetwork.Cli, args);
                var f = c.Namespace.Start(new ProcessSpec(file, argv) { Label = "fetch " + c.Label, MeasureUsage = true });
                f.LineReceived += (line, t) =>
                {
                    if (line.StartsWith("complete:", StringComparison.Ordinal)) lock (done) done[i] ??= t;
                };
                return f;
            }).ToList();
            all.AddRange(fetches);
            await Eventually.UntilAsync(() =>
            {
                lock (done) if (done.All(d => d != null)) return true;
                if (fetches.FirstOrDefault(f => f.HasExited) is { } failed) throw new InvalidOperationException($"{failed.Label} exited {failed.ExitCode}: {failed.Tail(20)}");
                return false;
            }, Timeout, "every fetch to complete", () => string.Join("\n", fetches.Select(f => f.Tail(3))), TimeSpan.FromMilliseconds(50));
            // Every fetch has fsynced and holds everything: stop them (SIGTERM), as the daemons are shut down.
            var rss = new long[fetches.Count];
            for (int i = 0; i < fetches.Count; i++)
            {
                fetches[i].Terminate(TimeSpan.FromSeconds(30));
                rss[i] = fetches[i].Usage().PeakRssBytes;
            }
            Verify();
            var secs = done.Select(d => (d!.Value - t0).TotalSeconds).ToArray();
            return new SessionRun("seed/fetch", rep, secs.Max(), secs, rss);
        }
        finally
        {
            foreach (var p in all) p.Kill();
        }
    }

    /// <summary>Every client's partitions equal the source partitions (blank targets, file systems made on blank files: free space is zeros on both).</summary>
    private void Verify()
    {
        foreach (var c in net.Clients)
            foreach (var p in _parts)
            {
                var r = Tool.Run("cmp", [p.Source, Target(c, p)], check: false);
                if (r.ExitCode != 0) throw new InvalidOperationException($"{c.Label}: {p.Name} differs from the source: {r.StdOut}{r.StdErr}");
            }
    }
}

/// <summary><c>blockswarm-lab ezio</c>: builds the lab and the Clonezilla image, runs both ways, prints times, ratio and RSS.</summary>
internal static class EzioLab
{
    public static async Task<int> RunAsync(Func<string, string, string> opt, Action<string> log)
    {
        if (LabNetwork.Unavailable() is { } why) { Console.Error.WriteLine(why); return 1; }
        int usedMib = int.Parse(opt("used-mib", "1024"), CultureInfo.InvariantCulture);
        double rate = double.Parse(opt("rate-mbit", "500"), CultureInfo.InvariantCulture);
        int clients = int.Parse(opt("clients", "4"), CultureInfo.InvariantCulture);
        int reps = int.Parse(opt("reps", "2"), CultureInfo.InvariantCulture);
        int cacheMib = int.Parse(opt("cache-mib", "64"), CultureInfo.InvariantCulture);
        // On tmpfs, as the swarm lab: the box's disk would otherwise be what is measured.
        var root = Path.Combine("/dev/shm", $"bslab-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            using var net = LabNetwork.Create(clients, rate, log);
            log($"lab {net.Id}: server {net.Server.Ip}, {clients} clients, links {rate} Mbit/s both ways; client cache {cacheMib} MiB");
            var session = new EzioSession(net, root, cacheMib, log);
            session.Prepare(usedMib);
            var runs = await session.RunAsync(reps);
            double floor = session.PayloadBytes * 8.0 / (rate * 1e6);
            double daemons = runs.Where(r => r.Mode.StartsWith("ezio", StringComparison.Ordinal)).Average(r => r.Seconds);
            double fetch = runs.Where(r => !r.Mode.StartsWith("ezio", StringComparison.Ordinal)).Average(r => r.Seconds);
            log($"payload {session.PayloadBytes >> 20} MiB per client, floor F/c {floor:0.00} s");
            log($"mean: ezio daemons {daemons:0.00} s, seed/fetch {fetch:0.00} s, daemons/fetch {daemons / fetch:0.000} ({(daemons / fetch - 1) * 100:+0.0;-0.0} %)");
            foreach (var mode in runs.Select(r => r.Mode).Distinct())
                log($"peak RSS {mode}: max {runs.Where(r => r.Mode == mode).SelectMany(r => r.ClientPeakRss).Max() >> 20} MiB per client (cache {cacheMib} MiB, budget {cacheMib + 64} MiB)");
            return 0;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
