using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using BlockSwarm.Testing;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>transfer</c>: one seeder → one leecher over loopback, inside a private network namespace
/// (<c>unshare -n</c>, lo up, 127.0.0.x per peer), a random image in the page cache, written to an
/// image file on disk and on tmpfs. BlockSwarm (two <c>blockswarm</c> processes) against libtorrent
/// (python3-libtorrent on both ends) and aria2c (both ends, a tiny in-process tracker), interleaved per
/// repetition; then BlockSwarm 1 → 3 leechers, and the leecher's peak RSS with a cache smaller than
/// the image. Wall time is fetch start to exit 0 (fsync included); CPU is user + system of both
/// processes from rusage; results are medians and ratios, never assertions.
/// </summary>
public static class TransferBenchmark
{
    internal const string NetnsVariable = "BLOCKSWARM_BENCH_NETNS";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>One run; <paramref name="SeederCpuSeconds"/> is the seeder's share of <paramref name="CpuSeconds"/>.</summary>
    private sealed record Sample(double Seconds, double CpuSeconds, long LeecherRss, double SeederCpuSeconds = double.NaN);

    /// <summary>Another CLI build and/or environment for the BlockSwarm processes.</summary>
    /// <summary>A BlockSwarm build with its environment and extra options for both seed and fetch (e.g. --compression=off).</summary>
    private sealed record Variant(string Cli, Dictionary<string, string> Environment, string[] Args);

    private sealed class Row(string target, string name, long bytes)
    {
        public string Target { get; } = target;
        public string Name { get; } = name;
        public long Bytes { get; } = bytes;
        public List<Sample> Samples { get; } = [];
        public double Seconds => Median(Samples.Select(s => s.Seconds));
        public double GBps => Bytes / Seconds / 1e9;
        public double CpuPerGiB => Median(Samples.Select(s => s.CpuSeconds)) / (Bytes / (double)(1L << 30));
        public long Rss => (long)Median(Samples.Select(s => (double)s.LeecherRss));
        public double SeederCpuPerGiB => Median(Samples.Select(s => s.SeederCpuSeconds)) / (Bytes / (double)(1L << 30));
    }

    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (Environment.GetEnvironmentVariable(NetnsVariable) != "1") return ReexecInNetns(args);

        int reps = int.Parse(Option("--reps") ?? "3", CultureInfo.InvariantCulture);
        long size = long.Parse(Option("--size-mib") ?? "1024", CultureInfo.InvariantCulture) << 20;
        string dir = Option("--dir") ?? "/tmp/blockswarm-bench/transfer";
        string tmpfs = Option("--tmpfs") ?? "/dev/shm/blockswarm-bench";
        var contenders = (Option("--only") ?? "blockswarm,libtorrent,aria2c").Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        // --variant LABEL=PATH/blockswarm.dll[;VAR=VALUE...][;--option=value...] (repeatable): more BlockSwarm builds, runtime
        // settings or options (given to seed and fetch), interleaved with the other contenders in every repetition, so an
        // A/B comparison sees the same load drift.
        var variants = new Dictionary<string, Variant>();
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] != "--variant") continue;
            var parts = args[i + 1].Split(';', StringSplitOptions.RemoveEmptyEntries);
            int eq = parts[0].IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"--variant {args[i + 1]}: expected LABEL=DLL[;VAR=VALUE...]");
            var env = parts.Skip(1).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).Select(p => p.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
            var extra = parts.Skip(1).Where(p => p.StartsWith("--", StringComparison.Ordinal)).ToArray();
            variants[parts[0][..eq]] = new Variant(Path.GetFullPath(parts[0][(eq + 1)..]), env, extra);
            contenders.Add(parts[0][..eq]);
        }
        var targets = (Option("--targets") ?? "tmpfs,disk").Split(',');
        bool extras = Option("--extras") != "no";

        Exec.Run("ip", "link", "set", "lo", "up");
        // --cli: a published blockswarm.dll (e.g. ReadyToRun) instead of the build output next to the bench.
        var bench = new Setup(dir, tmpfs, size, log, Option("--cli") ?? DefaultCli);
        log.WriteLine($"machine     {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        log.WriteLine($"image       {bench.Image}: {size >> 20} MiB random, {bench.Torrent.PieceCount} pieces of {bench.Torrent.PieceLength >> 20} MiB, in the page cache");
        log.WriteLine($"network     private namespace (unshare -n), loopback, seeder 127.0.0.1, leechers 127.0.0.2+");
        log.WriteLine($"runs        {reps} repetitions, contenders interleaved, median");

        var rows = new List<Row>();
        Row RowFor(string target, string name, long bytes)
        {
            var row = rows.FirstOrDefault(r => r.Target == target && r.Name == name);
            if (row == null) rows.Add(row = new Row(target, name, bytes));
            return row;
        }

        for (int r = 0; r < reps; r++)
        {
            foreach (var target in targets)
            {
                string targetDir = target == "tmpfs" ? tmpfs : Path.Combine(dir, "target");
                foreach (var c in contenders)
                {
                    var sample = c switch
                    {
                        "blockswarm" => bench.BlockSwarm(targetDir, 1, cache: null)[0],
                        "libtorrent" => bench.Libtorrent(targetDir),
                        "aria2c" => bench.Aria2(targetDir),
                        _ when variants.TryGetValue(c, out var v) => bench.BlockSwarm(targetDir, 1, cache: null, v)[0],
                        _ => throw new ArgumentException($"unknown contender {c}"),
                    };
                    RowFor(target, c, size).Samples.Add(sample);
                    log.WriteLine($"rep {r + 1}/{reps} {target,-5} {c,-10} {sample.Seconds,7:0.000} s  {size / sample.Seconds / 1e9,5:0.00} GB/s  {sample.CpuSeconds,6:0.00} CPU-s (seeder {sample.SeederCpuSeconds:0.00})  leecher RSS {sample.LeecherRss >> 20} MiB");
                }
            }
            if (extras && contenders.Contains("blockswarm"))
            {
                var three = bench.BlockSwarm(tmpfs, 3, cache: null);
                var agg = new Sample(three.Max(s => s.Seconds), three[0].CpuSeconds, three.Max(s => s.LeecherRss));
                RowFor("tmpfs", "blockswarm 1→3", 3 * size).Samples.Add(agg);
                log.WriteLine($"rep {r + 1}/{reps} tmpfs 1→3 leechers {agg.Seconds,7:0.000} s  {3 * size / agg.Seconds / 1e9,5:0.00} GB/s aggregate");
                var small = bench.BlockSwarm(Path.Combine(dir, "target"), 1, cache: "128MiB")[0];
                RowFor("disk", "blockswarm --cache 128MiB", size).Samples.Add(small);
                log.WriteLine($"rep {r + 1}/{reps} disk  --cache 128MiB {small.Seconds,7:0.000} s  leecher RSS {small.LeecherRss >> 20} MiB");
            }
        }

        // Targets are gigabytes of RAM on tmpfs: do not leave them behind (the seed image and torrent stay cached).
        foreach (var d in new[] { tmpfs, Path.Combine(dir, "target") })
            if (Directory.Exists(d)) Directory.Delete(d, recursive: true);

        log.WriteLine();
        log.WriteLine($"{"target",-6} {"contender",-26} {"median s",8} {"GB/s",6} {"CPU-s/GiB",9} {"seeder",6} {"leecher RSS",11}  runs (s)");
        foreach (var row in rows)
            log.WriteLine($"{row.Target,-6} {row.Name,-26} {row.Seconds,8:0.000} {row.GBps,6:0.00} {row.CpuPerGiB,9:0.00} {row.SeederCpuPerGiB,6:0.00} {row.Rss >> 20,7} MiB  "
                + string.Join(' ', row.Samples.Select(s => s.Seconds.ToString("0.00", CultureInfo.InvariantCulture))));
        log.WriteLine();
        foreach (var target in targets)
        {
            foreach (var ours in rows.Where(r => r.Target == target && (r.Name == "blockswarm" || variants.ContainsKey(r.Name))))
            {
                foreach (var reference in rows.Where(r => r.Target == target && r.Name is "libtorrent" or "aria2c"))
                    log.WriteLine($"{target,-6} {ours.Name} vs {reference.Name,-10}: {ours.GBps / reference.GBps:0.00}× throughput, {ours.CpuPerGiB / reference.CpuPerGiB:0.00}× CPU per GiB");
                log.WriteLine($"{target,-6} {ours.Name} goals: ≥ 1.1 GB/s (have {ours.GBps:0.00}), ≤ 1.7 CPU-s/GiB (have {ours.CpuPerGiB:0.00})");
            }
        }
        if (rows.FirstOrDefault(r => r.Name == "blockswarm --cache 128MiB") is { } rss)
            log.WriteLine($"leecher peak RSS with --cache 128MiB: {rss.Rss >> 20} MiB (goal ≤ 192 MiB = cache + 64 MiB)");
        return 0;
    }

    /// <summary>The publish next to the bench (build/PublishCli.targets: NativeAOT), else the plain build output.</summary>
    internal static string DefaultCli => CliCommand.DefaultPath(AppContext.BaseDirectory);

    internal static int ReexecInNetns(string[] args)
    {
        // The child's report is this run's output: echo it live, line by line.
        using var p = RunningProcess.Start(new ProcessSpec("unshare", ["-n", "--", CliCommand.DotnetHost, Path.Combine(AppContext.BaseDirectory, "blockswarm-bench.dll"), .. args])
        {
            Environment = new Dictionary<string, string> { [NetnsVariable] = "1" },
            Echo = Console.WriteLine,
        });
        return p.WaitForExit(System.Threading.Timeout.InfiniteTimeSpan);
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>The image, its torrent, a plain-file view of it for the reference clients, and the contenders.</summary>
    private sealed class Setup
    {
        private readonly string _dir;
        private readonly string _cli;
        private readonly string _logs;
        private readonly long _size;

        public Setup(string dir, string tmpfs, long size, TextWriter log, string cli)
        {
            _cli = Path.GetFullPath(cli);
            log.WriteLine($"cli         {_cli}");
            _dir = dir;
            _size = size;
            _logs = Path.Combine(dir, "logs");
            Directory.CreateDirectory(dir);
            Directory.CreateDirectory(tmpfs);
            Image = Path.Combine(dir, $"seed-{size >> 20}M.img");
            BenchImage.EnsureRandomFile(Image, size, log);
            TorrentPath = Path.Combine(dir, $"seed-{size >> 20}M.torrent");
            if (!File.Exists(TorrentPath) || File.GetLastWriteTimeUtc(TorrentPath) < File.GetLastWriteTimeUtc(Image))
            {
                var (file, arguments) = CliCommand.For(_cli, ["create", "--source", Image, "--map", "all", "--piece-size", "4MiB", "-o", TorrentPath]);
                Exec.Run(file, [.. arguments]);
            }
            Torrent = Torrent.Load(TorrentPath);
            // The reference clients seed plain files: the image's one extent is the torrent's one file; a hard link shares its page cache.
            if (Torrent.Files.Length != 1 || Torrent.Files[0].Length != size)
                throw new InvalidOperationException("expected a one-file torrent covering the whole image (--map all)");
            PlainDir = Path.Combine(dir, "plain");
            var plainFile = PlainPath(PlainDir);
            if (!File.Exists(plainFile))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(plainFile)!);
                Exec.Run("ln", "-f", Image, plainFile);
            }
            using (var fs = new FileStream(Image, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                var buffer = new byte[8 << 20];
                while (fs.Read(buffer) > 0) { }
            }
        }

        public string Image { get; }
        public string TorrentPath { get; }
        public Torrent Torrent { get; }
        public string PlainDir { get; }

        private string PlainPath(string root) =>
            Torrent.IsMultiFile ? Path.Combine([root, Torrent.Name, .. Torrent.Files[0].Path]) : Path.Combine(root, Torrent.Name);

        private static void Clean(string targetDir)
        {
            if (Directory.Exists(targetDir)) Directory.Delete(targetDir, recursive: true);
            Directory.CreateDirectory(targetDir);
            // Earlier runs' dirty pages must not be written back during this one.
            Exec.Run("sync");
        }

        /// <summary>A contender's process under GNU time (rusage CPU and peak RSS), its output in logs/NAME.log.</summary>
        private RunningProcess Start(string name, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
            RunningProcess.Start(new ProcessSpec(file, [.. args])
            {
                Label = name,
                LogFile = Path.Combine(_logs, name + ".log"),
                MeasureUsage = true,
                Environment = environment,
            });

        /// <summary>Waits for every process; the wall time from its start and its exit code, in order.</summary>
        private static List<(TimeSpan Wall, int ExitCode)> WaitAll(IEnumerable<RunningProcess> processes) =>
            [.. processes.Select(p => { int code = p.WaitForExit(Timeout); return (p.WallTime, code); })];

        /// <summary>One seeder, <paramref name="leechers"/> leechers that also know each other; one sample per leecher (CPU: all processes).</summary>
        public List<Sample> BlockSwarm(string targetDir, int leechers, string? cache, Variant? variant = null)
        {
            Clean(targetDir);
            string cli = variant?.Cli ?? _cli;
            var env = variant?.Environment;
            var (seedFile, seedArgs) = CliCommand.For(cli, ["seed", "--torrent", TorrentPath, "--source", Image, "--listen", "127.0.0.1:6881", .. variant?.Args ?? []]);
            using var seed = Start("bs-seed", seedFile, seedArgs, env);
            seed.WaitForListener("127.0.0.1", 6881, TimeSpan.FromSeconds(30));
            var fetches = new List<RunningProcess>();
            try
            {
                for (int i = 0; i < leechers; i++)
                {
                    var args = new List<string> { "fetch", "--torrent", TorrentPath, "--target", Path.Combine(targetDir, $"target{i}.img"),
                        "--listen", $"127.0.0.{2 + i}:6881", "--peer", "127.0.0.1:6881" };
                    for (int j = 0; j < i; j++) args.AddRange(["--peer", $"127.0.0.{2 + j}:6881"]);
                    if (cache != null) args.AddRange(["--cache", cache]);
                    args.AddRange(variant?.Args ?? []);
                    var (fetchFile, fetchArgs) = CliCommand.For(cli, args);
                    fetches.Add(Start($"bs-fetch{i}", fetchFile, fetchArgs, env));
                }
                var walls = WaitAll(fetches);
                for (int i = 0; i < walls.Count; i++)
                    if (walls[i].ExitCode != 0) throw new InvalidOperationException($"blockswarm fetch exited {walls[i].ExitCode}:\n{fetches[i].Tail()}");
                seed.Terminate();
                double cpu = seed.Usage().CpuSeconds + fetches.Sum(f => f.Usage().CpuSeconds);
                return walls.Select((w, i) => new Sample(w.Wall.TotalSeconds, cpu, fetches[i].Usage().PeakRssBytes, seed.Usage().CpuSeconds)).ToList();
            }
            finally
            {
                foreach (var f in fetches) f.Dispose();
            }
        }

        public Sample Libtorrent(string targetDir)
        {
            Clean(targetDir);
            // Tuned for a fair loopback run (large buffers, deep queues, no rate limits); the seed trusts its data.
            using var seed = Start("lt-seed", Tool.SystemPython, [LtScript.Path, "seed", TorrentPath, PlainDir, "--listen", "127.0.0.1:6881",
                "--skip-check", "--tuned", "--alerts", "error"]);
            seed.WaitForListener("127.0.0.1", 6881, TimeSpan.FromSeconds(30));
            using var fetch = Start("lt-fetch", Tool.SystemPython, [LtScript.Path, "fetch", TorrentPath, targetDir, "--listen", "127.0.0.2:6881",
                "--connect", "127.0.0.1:6881", "--tuned", "--fsync", "--timeout", "600", "--alerts", "error"]);
            var (wall, code) = WaitAll([fetch])[0];
            if (code != 0) throw new InvalidOperationException($"libtorrent fetch exited {code}:\n{fetch.Tail()}");
            seed.Terminate();
            Verify(PlainPath(targetDir));
            return new Sample(wall.TotalSeconds, seed.Usage().CpuSeconds + fetch.Usage().CpuSeconds, fetch.Usage().PeakRssBytes, seed.Usage().CpuSeconds);
        }

        public Sample Aria2(string targetDir)
        {
            Clean(targetDir);
            using var tracker = new Tracker(new IPEndPoint(IPAddress.Loopback, 6969), new IPEndPoint(IPAddress.Loopback, 6881));
            string[] common = ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                "--disable-ipv6=true", "--bt-tracker=http://127.0.0.1:6969/announce", "--max-overall-upload-limit=0",
                "--max-overall-download-limit=0", "--console-log-level=warn", "--summary-interval=0", "--file-allocation=falloc",
                "--auto-file-renaming=false", "--allow-overwrite=true", "--disk-cache=64M"];
            using var seed = Start("aria2-seed", "aria2c",
                [.. common, "--dir", PlainDir, "--bt-seed-unverified=true", "--seed-ratio=0.0", "--interface=127.0.0.1", "--listen-port=6881", TorrentPath]);
            seed.WaitForListener("127.0.0.1", 6881, TimeSpan.FromSeconds(30));
            using var fetch = Start("aria2-fetch", "aria2c",
                [.. common, "--dir", targetDir, "--seed-time=0", "--interface=127.0.0.2", "--listen-port=6882", TorrentPath]);
            var (wall, code) = WaitAll([fetch])[0];
            if (code != 0) throw new InvalidOperationException($"aria2c fetch exited {code}:\n{fetch.Tail()}");
            // aria2c does not fsync; count the fsync in its time as ours counts in BlockSwarm's.
            var sw = Stopwatch.StartNew();
            Exec.Run("sync", PlainPath(targetDir));
            double seconds = wall.TotalSeconds + sw.Elapsed.TotalSeconds;
            seed.Terminate();
            Verify(PlainPath(targetDir));
            return new Sample(seconds, seed.Usage().CpuSeconds + fetch.Usage().CpuSeconds, fetch.Usage().PeakRssBytes, seed.Usage().CpuSeconds);
        }

        private void Verify(string path)
        {
            if (new FileInfo(path).Length != _size) throw new InvalidOperationException($"{path} has the wrong size");
        }
    }

    /// <summary>The smallest HTTP tracker aria2c accepts: every announce gets the seeder as the one compact peer.</summary>
    private sealed class Tracker : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly byte[] _response;

        public Tracker(IPEndPoint at, IPEndPoint seeder)
        {
            var peer = new byte[6];
            seeder.Address.GetAddressBytes().CopyTo(peer, 0);
            peer[4] = (byte)(seeder.Port >> 8);
            peer[5] = (byte)seeder.Port;
            _response = [.. Encoding.ASCII.GetBytes("d8:intervali1800e5:peers6:"), .. peer, (byte)'e'];
            _listener.Prefixes.Add($"http://{at}/");
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await _listener.GetContextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                ctx.Response.ContentType = "text/plain";
                ctx.Response.ContentLength64 = _response.Length;
                await ctx.Response.OutputStream.WriteAsync(_response).ConfigureAwait(false);
                ctx.Response.Close();
            }
        }

        public void Dispose() => _listener.Close();
    }
}
