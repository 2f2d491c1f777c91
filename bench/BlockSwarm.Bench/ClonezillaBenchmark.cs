using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using BlockSwarm.Clonezilla;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Lab;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>clonezilla</c>: issue 14's performance goals on a realistic image directory (<see cref="ClonezillaBenchImage"/>),
/// each against a reference measured in the same run, repetitions interleaved, medians, nothing asserted:
/// (a) the first <c>create --source IMAGEDIR</c> (index + hashing, empty index cache) against the native decompressor
/// over the same files (<c>zstd -d</c>, <c>pigz -d</c>), with an in-process breakdown (decode alone, SHA-1 alone);
/// (b) the second create and serve, index cached: time until ready; (c) a 1 → 1 fetch over loopback served from the
/// image directory against the same fetch served from the raw disk image; (d) the swarm lab (bench/BlockSwarm.Lab: a
/// shaped switched LAN of namespaces, N deploy clients) served from the image directory against the raw image.
/// </summary>
public static class ClonezillaBenchmark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);
    private const string Sha1Row = "SHA-1 of the payload, 1 thread, in memory";

    private static string NativeRow(Source s) => $"{s.Label}: cat | {s.Native.Split(' ')[0]} -d of every partition image";

    private static string CreateRow(Source s) => $"{s.Label}: blockswarm create (CLI, empty index cache)";
    private const int SeedPort = 6881;

    /// <summary>One of the two image directories and what it takes to decompress it natively.</summary>
    private sealed record Source(string Label, string Directory, string Native, string Torrent);

    private sealed class Rows
    {
        private readonly List<(string Section, string Name, List<double> Values)> _rows = [];

        public List<double> this[string section, string name]
        {
            get
            {
                var row = _rows.FirstOrDefault(r => r.Section == section && r.Name == name);
                if (row.Values == null) _rows.Add(row = (section, name, []));
                return row.Values;
            }
        }

        public double Median(string section, string name) => PartcloneBenchmark.Median(this[section, name]);

        public string Runs(string section, string name) => string.Join(' ', this[section, name].Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)));
    }

    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int IntOption(string name, int fallback) => Option(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        if (Environment.GetEnvironmentVariable(TransferBenchmark.NetnsVariable) != "1") return TransferBenchmark.ReexecInNetns(args);

        int reps = IntOption("--reps", 3);
        string cache = Path.GetFullPath(Option("--cache") ?? "/tmp/blockswarm-bench/clonezilla");
        string tmpfs = Path.GetFullPath(Option("--tmpfs") ?? "/dev/shm/blockswarm-bench-cz");
        string cli = Path.GetFullPath(Option("--cli") ?? TransferBenchmark.DefaultCli);
        var only = (Option("--only") ?? "create,ready,fetch,lab").Split(',').ToHashSet();
        int labClients = IntOption("--lab-clients", 4), labReps = IntOption("--lab-reps", 2);
        double labRate = double.Parse(Option("--lab-rate-mbit") ?? "200", CultureInfo.InvariantCulture);

        Exec.Run("ip", "link", "set", "lo", "up");
        Directory.CreateDirectory(tmpfs);
        var image = ClonezillaBenchImage.Ensure(cache, log);
        var work = Path.Combine(cache, "work");
        var logs = Path.Combine(cache, "logs");
        Directory.CreateDirectory(work);
        log.WriteLine($"machine     {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        log.WriteLine($"cli         {cli}");
        if (image.Timings.Count > 0) log.WriteLine($"built       {string.Join("; ", image.Timings)}");

        // Warm-up, untimed: every file in the page cache; each directory's torrent made by the CLI (empty index cache),
        // and the in-process pass checked to make the very same torrent.
        var sources = new List<Source>();
        long payload = 0;
        foreach (var (label, dir, native) in new[] { ("zstd", image.ZstdDirectory, "zstd -q -d -c"), ("gzip", image.GzipDirectory, "pigz -d -c") })
        {
            foreach (var f in System.IO.Directory.GetFiles(dir)) PartcloneBenchmark.WarmPageCache(f);
            var torrent = Path.Combine(work, $"{label}.torrent");
            CreateWithEmptyCache(cli, dir, torrent, work, logs, label);
            var t = Torrent.Load(torrent);
            using (var job = OpenJob(dir))
            {
                var ours = job.CreateTorrent(new CreateOptions { Name = t.Name, PieceLength = t.PieceLength });
                if (!ours.InfoHash.Equals(t.InfoHash)) throw new InvalidOperationException($"{dir}: in-process DiskJob made {ours.InfoHash.ToHex()}, the CLI {t.InfoHash.ToHex()}");
                payload = job.Bytes;
                Describe(log, label, dir, job, t);
            }
            sources.Add(new Source(label, dir, native, torrent));
        }
        log.WriteLine($"runs        {reps} repetitions, contenders interleaved, medians; private network namespace (unshare -n), loopback");
        var rows = new Rows();

        if (only.Contains("create"))
        {
            // SHA-1 alone, one thread, over as many bytes as the job: what hashing costs whatever the source.
            var sha = Sha1Seconds(payload);
            rows["create", Sha1Row].Add(sha.Wall);
            rows["create cpu", Sha1Row].Add(sha.Cpu);
            for (int r = 0; r < reps; r++)
            {
                foreach (var s in sources)
                {
                    var native = Native(s, logs);
                    var create = CreateWithEmptyCache(cli, s.Directory, Path.Combine(work, "again.torrent"), work, logs, s.Label);
                    var (decode, hash) = InProcess(s);
                    rows["create", NativeRow(s)].Add(native.Wall);
                    rows["create cpu", NativeRow(s)].Add(native.Cpu);
                    rows["create", CreateRow(s)].Add(create.Wall);
                    rows["create cpu", CreateRow(s)].Add(create.Cpu);
                    rows["create", $"{s.Label}: DiskJob.CreateTorrent (in-process)"].Add(hash.Wall);
                    rows["create cpu", $"{s.Label}: DiskJob.CreateTorrent (in-process)"].Add(hash.Cpu);
                    rows["create", $"{s.Label}: decode only (in-process, no SHA-1)"].Add(decode.Wall);
                    rows["create cpu", $"{s.Label}: decode only (in-process, no SHA-1)"].Add(decode.Cpu);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"rep {r + 1}/{reps} {s.Label}: native {native.Wall:0.000} s ({native.Cpu:0.00} CPU-s), create CLI {create.Wall:0.000} s ({create.Cpu:0.00} CPU-s), in-process {hash.Wall:0.000} s ({hash.Cpu:0.00}), decode only {decode.Wall:0.000} s ({decode.Cpu:0.00})"));
                }
            }
        }

        if (only.Contains("ready"))
        {
            var warm = Path.Combine(work, "index-warm");
            for (int r = 0; r < reps; r++)
            {
                foreach (var s in sources)
                {
                    double create = CreateWithCache(cli, s.Directory, warm, work, logs, s.Label);
                    double serve = ServeReady(cli, s.Directory, warm, logs, s.Label);
                    rows["ready", $"{s.Label}: blockswarm create, index cached (process)"].Add(create);
                    rows["ready", $"{s.Label}: blockswarm serve, index cached: start → 'serving'"].Add(serve);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rep {r + 1}/{reps} {s.Label}: create with index {create:0.000} s, serve ready {serve:0.000} s"));
                }
            }
        }

        string? raw = null;
        if (only.Contains("fetch") || only.Contains("lab")) raw = EnsureRawImage(cli, sources[0], cache, tmpfs, logs, log);
        if (only.Contains("fetch"))
        {
            var contenders = sources.Select(s => (Label: $"{s.Label} image directory", Source: s.Directory, s.Torrent)).ToList();
            contenders.Add((Label: "raw disk image", Source: raw!, sources[0].Torrent));
            // Untimed: the first fetch of a run pays for first-touched tmpfs pages and cold code paths (this VM charges for both).
            Fetch(cli, raw!, sources[0].Torrent, tmpfs, logs, "warm-up");
            for (int r = 0; r < reps; r++)
            {
                foreach (var c in contenders)
                {
                    var f = Fetch(cli, c.Source, c.Torrent, tmpfs, logs, c.Label.Split(' ')[0]);
                    rows["fetch", c.Label].Add(f.Seconds);
                    rows["fetch cpu", c.Label].Add(f.Cpu);
                    rows["fetch seeder", c.Label].Add(f.SeederCpu);
                    rows["fetch restarts", c.Label].Add(f.Restarts);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"rep {r + 1}/{reps} fetch from {c.Label,-22} {f.Seconds,7:0.000} s  {payload / f.Seconds / 1e6,5:0} MB/s  {f.Cpu,5:0.00} CPU-s (seeder {f.SeederCpu:0.00}), decoder restarts {f.Restarts}"));
                }
            }
        }

        List<RunResult>? lab = null;
        if (only.Contains("lab"))
        {
            if (LabNetwork.Unavailable() is { } why) log.WriteLine($"lab skipped: {why}");
            else lab = Lab(cli, sources[0], raw!, payload, labClients, labRate, labReps, tmpfs, logs, log);
        }
        if (Directory.Exists(tmpfs)) Directory.Delete(tmpfs, recursive: true);

        Report(log, rows, sources, payload, lab);
        return 0;
    }

    private static void Report(TextWriter log, Rows rows, List<Source> sources, long payload, List<RunResult>? lab)
    {
        string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
        log.WriteLine();
        log.WriteLine($"payload     {payload} bytes ({payload / 1e9:0.00} GB): what a deployment writes, every number below is per this");
        if (rows["create", Sha1Row].Count > 0)
        {
            log.WriteLine();
            log.WriteLine("(a) first create: index + hashing, empty index cache          median s   MB/s  CPU-s  runs (s)");
            foreach (var name in new[] { Sha1Row }.Concat(sources.SelectMany(s => new[]
                {
                    NativeRow(s), CreateRow(s), $"{s.Label}: DiskJob.CreateTorrent (in-process)", $"{s.Label}: decode only (in-process, no SHA-1)",
                })))
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {name,-58} {F(rows.Median("create", name)),8} {payload / rows.Median("create", name) / 1e6,6:0} {rows.Median("create cpu", name),6:0.00}  {rows.Runs("create", name)}"));
            foreach (var s in sources)
            {
                double native = rows.Median("create", NativeRow(s));
                double cliRatio = native / rows.Median("create", CreateRow(s));
                double inRatio = native / rows.Median("create", $"{s.Label}: DiskJob.CreateTorrent (in-process)");
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {s.Label}: speed vs `cat | {s.Native.Split(' ')[0]} -d`: {cliRatio:0.00}× CLI, {inRatio:0.00}× in-process{(s.Label == "zstd" ? " (goal ≥ 0.8×)" : "")}; per repetition (CLI): {string.Join(' ', rows["create", NativeRow(s)].Zip(rows["create", CreateRow(s)], (n, c) => (n / c).ToString("0.00", CultureInfo.InvariantCulture)))}"));
            }
        }
        if (rows["ready", $"{sources[0].Label}: blockswarm create, index cached (process)"].Count > 0)
        {
            log.WriteLine();
            log.WriteLine("(b) second create / serve, index cached (goal < 2 s)       median s  runs (s)");
            foreach (var s in sources)
                foreach (var name in new[] { $"{s.Label}: blockswarm create, index cached (process)", $"{s.Label}: blockswarm serve, index cached: start → 'serving'" })
                    log.WriteLine($"    {name,-55} {F(rows.Median("ready", name)),8}  {rows.Runs("ready", name)}");
        }
        if (rows["fetch", "raw disk image"].Count > 0)
        {
            log.WriteLine();
            log.WriteLine("(c) 1 → 1 fetch on loopback, target on tmpfs         median s   MB/s  CPU-s seeder restarts  runs (s)");
            foreach (var name in sources.Select(s => $"{s.Label} image directory").Append("raw disk image"))
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {"served from " + name,-48} {F(rows.Median("fetch", name)),8} {payload / rows.Median("fetch", name) / 1e6,6:0} {rows.Median("fetch cpu", name),6:0.00} {rows.Median("fetch seeder", name),6:0.00} {rows.Median("fetch restarts", name),8:0}  {rows.Runs("fetch", name)}"));
            double rawMBps = payload / rows.Median("fetch", "raw disk image") / 1e6;
            foreach (var s in sources)
            {
                double mbps = payload / rows.Median("fetch", $"{s.Label} image directory") / 1e6;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {s.Label} image directory: {mbps:0} MB/s, {mbps / rawMBps:0.00}× the raw image's{(s.Label == "zstd" ? " (goal ≥ 400 MB/s)" : "")}"));
            }
        }
        if (lab is { Count: > 0 })
        {
            log.WriteLine();
            var first = lab[0];
            log.WriteLine($"(d) swarm lab: 1 serve → {first.Clients} deploy clients, links {first.RateMbit} Mbit/s, F/c = {F(first.FloorSeconds)} s   median s  T/(F/c)  runs (s)");
            foreach (var kind in lab.Select(x => x.Image).Distinct())
            {
                var runs = lab.Where(x => x.Image == kind).Select(x => x.Seconds).ToList();
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    served from {kind,-30} {F(PartcloneBenchmark.Median(runs)),8} {PartcloneBenchmark.Median(runs) / first.FloorSeconds,8:0.00}  {string.Join(' ', runs.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))}"));
            }
            var dir = lab.Where(x => x.Image != RawLab).Select(x => x.Seconds).ToList();
            var rawRuns = lab.Where(x => x.Image == RawLab).Select(x => x.Seconds).ToList();
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    image directory / raw image: {PartcloneBenchmark.Median(dir) / PartcloneBenchmark.Median(rawRuns):0.000}× the time (goal within 3%)"));
        }
    }

    private static void Describe(TextWriter log, string label, string dir, DiskJob job, Torrent t)
    {
        long files = System.IO.Directory.GetFiles(dir).Sum(f => new FileInfo(f).Length);
        log.WriteLine($"image       {label}: {dir}, {files / 1e6:0} MB in {System.IO.Directory.GetFiles(dir).Length} files; disk {job.Disk.Size >> 20} MiB, writes {job.Bytes / 1e6:0} MB in {job.Extents.Length} extents, {t.PieceCount} pieces of {t.PieceLength >> 10} KiB");
        foreach (var p in job.Disk.Partitions.Where(p => p.Image is not null))
        {
            var i = p.Image!;
            var stream = job.Streams.FirstOrDefault(s => s.Name.StartsWith(p.Name + " ", StringComparison.Ordinal));
            log.WriteLine($"              {p.Name}: {i.FileSystem}, {i.Compression}, {i.Files.Count} file(s), {i.StreamLength / 1e6:0} MB compressed, {(stream?.Length ?? 0) / 1e6:0} MB of used blocks");
        }
    }

    private static DiskJob OpenJob(string dir) => DiskJob.Open(ClonezillaImage.Load(dir).Disks.Single());

    private readonly record struct Timed(double Wall, double Cpu);

    /// <summary>
    /// The native decompressor over each partition image (its split files catenated by cat, as Clonezilla's restore
    /// does), one after another, to /dev/null; wall and CPU seconds (cat's and the decompressor's).
    /// </summary>
    private static Timed Native(Source s, string logs)
    {
        var disk = ClonezillaImage.Load(s.Directory).Disks.Single();
        var script = string.Join(" && ", disk.Partitions.Where(p => p.Image is not null)
            .Select(p => $"cat {string.Join(' ', p.Image!.Files.Select(f => $"'{f}'"))} | {s.Native} > /dev/null"));
        using var p = RunningProcess.Start(new ProcessSpec("/bin/bash", "-c", script) { Label = $"native-{s.Label}", LogFile = Path.Combine(logs, $"native-{s.Label}.log"), MeasureUsage = true });
        if (p.WaitForExit(Timeout) != 0) throw new InvalidOperationException($"{script} failed:\n{p.Tail()}");
        return new Timed(p.WallTime.TotalSeconds, p.Usage().CpuSeconds);
    }

    /// <summary>Wall and CPU seconds of this process over <paramref name="action"/>.</summary>
    private static Timed Measure(Action action)
    {
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        action();
        double wall = sw.Elapsed.TotalSeconds;
        self.Refresh();
        return new Timed(wall, (self.TotalProcessorTime - cpu).TotalSeconds);
    }

    /// <summary>In-process: decoding every extent of the job (no hashing), then the whole CreateTorrent pass.</summary>
    private static (Timed Decode, Timed Hash) InProcess(Source s)
    {
        var decode = Measure(() =>
        {
            using var job = OpenJob(s.Directory);
            var buffer = new byte[4 << 20];
            var one = new Memory<byte>[1];
            foreach (var e in job.Extents)
            {
                for (long at = 0; at < e.Length; at += buffer.Length)
                {
                    one[0] = buffer.AsMemory(0, (int)Math.Min(buffer.Length, e.Length - at));
                    job.Device.Read(e.Offset + at, one);
                }
            }
        });
        int pieceLength = Torrent.Load(s.Torrent).PieceLength;
        var hash = Measure(() =>
        {
            using var job = OpenJob(s.Directory);
            job.CreateTorrent(new CreateOptions { Name = "bench", PieceLength = pieceLength });
        });
        return (decode, hash);
    }

    private static Timed Sha1Seconds(long bytes)
    {
        var buffer = new byte[16 << 20];
        RandomNumberGenerator.Fill(buffer);
        var hash = new byte[20];
        return Measure(() =>
        {
            for (long done = 0; done < bytes; done += buffer.Length)
                SHA1.HashData(buffer.AsSpan(0, (int)Math.Min(buffer.Length, bytes - done)), hash);
        });
    }

    private static ProcessSpec Cli(string cli, IEnumerable<string> args, string label, string logs, Dictionary<string, string>? env = null, bool usage = false)
    {
        var (file, arguments) = CliCommand.For(cli, args);
        return new ProcessSpec(file, arguments) { Label = label, LogFile = Path.Combine(logs, label + ".log"), Environment = env, MeasureUsage = usage };
    }

    /// <summary><c>blockswarm create -s DIR</c> with a new, empty index cache: the first serve's work. Wall and CPU seconds of the process.</summary>
    private static Timed CreateWithEmptyCache(string cli, string dir, string torrent, string work, string logs, string label)
    {
        var empty = Path.Combine(work, "index-empty");
        if (Directory.Exists(empty)) Directory.Delete(empty, recursive: true);
        using var p = RunningProcess.Start(Cli(cli, ["create", "-s", dir, "-o", torrent], $"create-{label}", logs, new() { ["BLOCKSWARM_CACHE"] = empty }, usage: true));
        if (p.WaitForExit(Timeout) != 0) throw new InvalidOperationException($"create of {dir} failed:\n{p.Tail()}");
        if (!p.Output.Contains("index saved in", StringComparison.Ordinal)) throw new InvalidOperationException($"create did not hash {dir}:\n{p.Tail()}");
        Directory.Delete(empty, recursive: true);
        return new Timed(p.WallTime.TotalSeconds, p.Usage().CpuSeconds);
    }

    /// <summary><c>blockswarm create -s DIR</c> with the index cache of an earlier create: the second serve's start.</summary>
    private static double CreateWithCache(string cli, string dir, string cache, string work, string logs, string label)
    {
        var env = new Dictionary<string, string> { ["BLOCKSWARM_CACHE"] = cache };
        var torrent = Path.Combine(work, "cached.torrent");
        var r = Tool.Run(Cli(cli, ["create", "-s", dir, "-o", torrent], $"create-cached-{label}", logs, env), timeout: Timeout);
        if (!(r.StdOut + r.StdErr).Contains("index reused from", StringComparison.Ordinal))
            r = Tool.Run(Cli(cli, ["create", "-s", dir, "-o", torrent], $"create-cached-{label}", logs, env), timeout: Timeout);
        if (!(r.StdOut + r.StdErr).Contains("index reused from", StringComparison.Ordinal)) throw new InvalidOperationException($"create did not reuse the index of {dir}:\n{r.StdOut}{r.StdErr}");
        return r.Elapsed.TotalSeconds;
    }

    /// <summary><c>blockswarm serve -s DIR</c>, index cached: from the process's start to its 'serving …' line (then stopped).</summary>
    private static double ServeReady(string cli, string dir, string cache, string logs, string label)
    {
        var ready = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var serve = RunningProcess.Start(Cli(cli, ["serve", "-s", dir, "--listen", "127.0.0.1", "--http-port", "8080", "--bt-port", $"{SeedPort}"],
            $"serve-{label}", logs, new() { ["BLOCKSWARM_CACHE"] = cache }));
        serve.LineReceived += (line, t) => { if (line.StartsWith("serving ", StringComparison.Ordinal)) ready.TrySetResult(t); };
        try
        {
            if (!ready.Task.Wait(Timeout)) throw new TimeoutException($"serve did not start serving {dir}:\n{serve.Tail()}");
            if (!serve.StdErr.Contains("index reused from", StringComparison.Ordinal)) throw new InvalidOperationException($"serve did not reuse the index of {dir}:\n{serve.Tail()}");
            return (ready.Task.Result - serve.StartedAt).TotalSeconds;
        }
        finally
        {
            serve.Terminate();
        }
    }

    private sealed record FetchSample(double Seconds, double Cpu, double SeederCpu, int Restarts);

    /// <summary>One seeder on 127.0.0.1 (its source: an image directory or the raw image) → one fetch on 127.0.0.2 into tmpfs.</summary>
    private static FetchSample Fetch(string cli, string source, string torrent, string tmpfs, string logs, string label, string? target = null)
    {
        var targetDir = Path.Combine(tmpfs, "fetch");
        if (Directory.Exists(targetDir)) Directory.Delete(targetDir, recursive: true);
        Directory.CreateDirectory(targetDir);
        using var seed = RunningProcess.Start(Cli(cli, ["seed", "--torrent", torrent, "--source", source, "--listen", $"127.0.0.1:{SeedPort}"], $"seed-{label}", logs, usage: true));
        seed.WaitForListener("127.0.0.1", SeedPort, TimeSpan.FromSeconds(60));
        using var fetch = RunningProcess.Start(Cli(cli, ["fetch", "--torrent", torrent, "--target", target ?? Path.Combine(targetDir, "target.img"),
            "--listen", $"127.0.0.2:{SeedPort}", "--peer", $"127.0.0.1:{SeedPort}"], $"fetch-{label}", logs, usage: true));
        int code = fetch.WaitForExit(Timeout);
        if (code != 0) throw new InvalidOperationException($"fetch from {source} exited {code}:\n{fetch.Tail()}\nseed:\n{seed.Tail()}");
        seed.Terminate();
        int restarts = seed.StdErr.Split('\n').Count(l => l.Contains("decoding again from", StringComparison.Ordinal));
        var sample = new FetchSample(fetch.WallTime.TotalSeconds, seed.Usage().CpuSeconds + fetch.Usage().CpuSeconds, seed.Usage().CpuSeconds, restarts);
        Directory.Delete(targetDir, recursive: true);
        return sample;
    }

    /// <summary>
    /// The raw disk image to compare against: the job fetched once from the zstd directory into a file (every piece
    /// verified against the torrent), i.e. what restoredisk writes plus the NTFS backup boot sector. Kept in the cache.
    /// </summary>
    private static string EnsureRawImage(string cli, Source zstd, string cache, string tmpfs, string logs, TextWriter log)
    {
        var raw = Path.Combine(cache, $"raw-v{ClonezillaBenchImage.Version}.img");
        if (!File.Exists(raw))
        {
            log.WriteLine($"making {raw}: the job fetched once from {zstd.Directory} ...");
            File.Delete(raw + ".tmp");
            Fetch(cli, zstd.Directory, zstd.Torrent, tmpfs, logs, "raw-image", raw + ".tmp");
            File.Delete(raw + ".tmp.blockswarm-resume");
            File.Move(raw + ".tmp", raw);
        }
        PartcloneBenchmark.WarmPageCache(raw);
        return raw;
    }

    /// <summary>The swarm lab's BlockSwarm run (serve → N deploy clients on a shaped LAN), served from the directory and from the raw image, interleaved.</summary>
    private const string RawLab = "raw-disk-image";

    private static List<RunResult> Lab(string cli, Source zstd, string raw, long payload, int clients, double rate, int reps, string tmpfs, string logs, TextWriter log)
    {
        LabNetwork.Cli = cli;
        // Each client's progress over time (Runners writes it here): where a slower run lost its time.
        if (Environment.GetEnvironmentVariable("LAB_TIMELINE_DIR") is not { Length: > 0 })
            Environment.SetEnvironmentVariable("LAB_TIMELINE_DIR", Directory.CreateDirectory(Path.Combine(logs, "lab")).FullName);
        var results = new List<RunResult>();
        var targets = Path.Combine(tmpfs, "lab");
        Directory.CreateDirectory(targets);
        using var net = LabNetwork.Create(clients, rate, log.WriteLine);
        var runners = new Runners(net, targets, log.WriteLine);
        var images = new[]
        {
            new LabImage($"{zstd.Label}-image-directory", zstd.Directory, zstd.Torrent, payload, ClonezillaBenchImage.DiskBytes, null, zstd.Directory),
            new LabImage(RawLab, raw, zstd.Torrent, payload, ClonezillaBenchImage.DiskBytes, null, Path.GetDirectoryName(raw)!),
        };
        for (int r = 0; r < reps; r++)
        {
            foreach (var img in images)
            {
                var result = runners.BlockSwarmAsync(img).GetAwaiter().GetResult();
                results.Add(result);
                var timeline = Path.Combine(Environment.GetEnvironmentVariable("LAB_TIMELINE_DIR")!,
                    string.Create(CultureInfo.InvariantCulture, $"timeline-{img.Kind}-n{net.Clients.Count}-{net.RateMbit}mbit.csv"));
                if (File.Exists(timeline)) File.Move(timeline, Path.ChangeExtension(timeline, $".rep{r + 1}.csv"), overwrite: true);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"rep {r + 1}/{reps} lab {img.Kind,-22} N={clients}: T={result.Seconds:0.00} s, F/c={result.FloorSeconds:0.00} s, T/(F/c)={result.Ratio:0.00}, origin sent {result.OriginUploaded / (double)payload:0.00}×F"));
            }
        }
        return results;
    }
}
