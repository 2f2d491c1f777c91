using System.Globalization;
using BlockSwarm.Testing;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>disk</c>: how close <c>blockswarm fetch</c> comes to the disk's own speed. One seeder on loopback (inside a private
/// network namespace, its random image on tmpfs so it never reads the disk under test) → one <c>fetch</c> into a new
/// image file on a real disk, in its default write mode and with <c>--write-mode buffered</c>, interleaved per
/// repetition with <c>dd if=/dev/zero oflag=direct bs=16M conv=fsync</c> of as many bytes into the same directory: the
/// disk's limit. Before every run the previous run's files are deleted, dirty pages synced and (as root) the page cache
/// dropped. Wall time is process start to exit (fetch: start-up, fallocate, every piece verified, fsync); CPU is user +
/// system from rusage; the peak of /proc/meminfo's Dirty shows what each leaves in the page cache. Results are medians
/// and ratios from the same run, never assertions.
/// </summary>
public static class DiskBenchmark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    /// <summary>One run: wall seconds, CPU of the writer (fetch or dd) and of the seeder, the peak of Dirty.</summary>
    private sealed record Sample(double Seconds, double CpuSeconds, double SeederCpuSeconds, long PeakDirtyBytes);

    /// <summary>A fetch build and the extra arguments it runs with; dd when <see cref="Cli"/> is null.</summary>
    private sealed record Contender(string Name, string? Cli, string[] Args, Dictionary<string, string>? Environment = null)
    {
        public List<Sample> Samples { get; } = [];
        public double Seconds => Median(Samples.Select(s => s.Seconds));
    }

    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (Environment.GetEnvironmentVariable(TransferBenchmark.NetnsVariable) != "1") return TransferBenchmark.ReexecInNetns(args);

        int reps = int.Parse(Option("--reps") ?? "3", CultureInfo.InvariantCulture);
        long size = long.Parse(Option("--size-mib") ?? "2048", CultureInfo.InvariantCulture) << 20;
        if (size <= 0 || size % (16 << 20) != 0) throw new ArgumentException("--size-mib must be a positive multiple of 16 (dd writes 16 MiB blocks)");
        string targetDir = Path.GetFullPath(Option("--target-dir") ?? "/var/tmp/blockswarm-bench-disk");
        string sourceDir = Path.GetFullPath(Option("--source-dir") ?? "/dev/shm/blockswarm-bench-disk");
        string pieceSize = Option("--piece-size") ?? "4MiB";
        string cli = Path.GetFullPath(Option("--cli") ?? TransferBenchmark.DefaultCli);
        Directory.CreateDirectory(targetDir);
        Directory.CreateDirectory(sourceDir);
        string fs = Requires.FileSystemOf(targetDir);
        if (fs is "tmpfs" or "ramfs")
            throw new ArgumentException($"--target-dir {targetDir} is on {fs}: the disk benchmark needs a directory on a disk");
        bool root = Tool.IsRoot;

        var contenders = new List<Contender>
        {
            new("fetch (default)", cli, []),
            new("fetch --write-mode buffered", cli, ["--write-mode", "buffered"]),
            new("dd oflag=direct bs=16M", null, []),
        };
        // --variant LABEL=PATH[;VAR=VALUE...][;args=--flag value ...] (repeatable): another build, environment or flags
        // of fetch, interleaved with the others, for A/B comparisons under the same disk and load.
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] != "--variant") continue;
            var parts = args[i + 1].Split(';', StringSplitOptions.RemoveEmptyEntries);
            int eq = parts[0].IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"--variant {args[i + 1]}: expected LABEL=PATH[;VAR=VALUE...][;args=...]");
            var pairs = parts.Skip(1).Select(p => p.Split('=', 2)).ToList();
            var extra = pairs.Where(kv => kv[0] == "args").SelectMany(kv => kv[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
            var env = pairs.Where(kv => kv[0] != "args").ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
            contenders.Add(new Contender(parts[0][..eq], Path.GetFullPath(parts[0][(eq + 1)..]), extra, env));
        }
        if (Option("--only") is { } only)
        {
            var keep = only.Split(',', StringSplitOptions.RemoveEmptyEntries);
            contenders.RemoveAll(c => !keep.Any(k => c.Name.StartsWith(k, StringComparison.Ordinal)));
        }

        Exec.Run("ip", "link", "set", "lo", "up");
        var (image, torrentPath) = Prepare(sourceDir, size, pieceSize, cli, log);
        var torrent = Torrent.Load(torrentPath);
        string logs = Path.Combine(targetDir, "logs");
        log.WriteLine($"machine     {Environment.ProcessorCount} cores, .NET {Environment.Version}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        log.WriteLine($"cli         {cli}");
        log.WriteLine($"source      {image}: {size >> 20} MiB random on {Requires.FileSystemOf(sourceDir)}, {torrent.PieceCount} pieces of {torrent.PieceLength >> 20} MiB");
        log.WriteLine($"target      {targetDir} on {MountOf(targetDir)}; a new image file per run; logs in {logs}");
        log.WriteLine($"runs        {reps} repetitions, contenders interleaved (the order rotates), median; before each run: "
            + (root ? "rm, sync, drop_caches" : "rm, sync (not root: page cache not dropped)"));

        for (int r = 0; r < reps; r++)
        {
            for (int k = 0; k < contenders.Count; k++)
            {
                var c = contenders[(k + r) % contenders.Count];
                Clean(targetDir, root);
                var sample = c.Cli is null
                    ? Dd(targetDir, size, logs)
                    : Fetch(c, image, torrentPath, targetDir, size, logs);
                c.Samples.Add(sample);
                log.WriteLine($"rep {r + 1}/{reps} {c.Name,-30} {sample.Seconds,7:0.000} s  {size / sample.Seconds / 1e9,5:0.00} GB/s  "
                    + $"{sample.CpuSeconds,5:0.00} CPU-s{(c.Cli is null ? "" : $" (seeder {sample.SeederCpuSeconds:0.00})")}  peak Dirty {sample.PeakDirtyBytes >> 20} MiB");
            }
        }
        Clean(targetDir, root: false);

        double gib = size / (double)(1L << 30);
        log.WriteLine();
        log.WriteLine($"{"contender",-30} {"median s",8} {"GB/s",6} {"CPU-s/GiB",9} {"+seeder",7} {"Dirty",8}  runs (s)");
        foreach (var c in contenders)
        {
            double cpu = Median(c.Samples.Select(s => s.CpuSeconds)) / gib;
            double withSeeder = c.Cli is null ? double.NaN : Median(c.Samples.Select(s => s.CpuSeconds + s.SeederCpuSeconds)) / gib;
            long dirty = (long)Median(c.Samples.Select(s => (double)s.PeakDirtyBytes));
            log.WriteLine($"{c.Name,-30} {c.Seconds,8:0.000} {size / c.Seconds / 1e9,6:0.00} {cpu,9:0.00} {withSeeder,7:0.00} {dirty >> 20,4} MiB  "
                + string.Join(' ', c.Samples.Select(s => s.Seconds.ToString("0.00", CultureInfo.InvariantCulture))));
        }
        log.WriteLine();
        if (contenders.FirstOrDefault(c => c.Cli is null) is { } dd)
        {
            foreach (var c in contenders.Where(c => c.Cli is not null))
            {
                var perRep = c.Samples.Zip(dd.Samples, (f, d) => (d.Seconds / f.Seconds).ToString("0.00", CultureInfo.InvariantCulture));
                log.WriteLine($"{c.Name,-30} speed vs dd: {dd.Seconds / c.Seconds:0.00}× (goal ≥ 0.8×); per repetition {string.Join(' ', perRep)}");
            }
        }
        return 0;
    }

    /// <summary>The random source image on tmpfs and its torrent (a whole-image, one-file block-image torrent), made once.</summary>
    private static (string Image, string Torrent) Prepare(string sourceDir, long size, string pieceSize, string cli, TextWriter log)
    {
        string image = Path.Combine(sourceDir, $"seed-{size >> 20}M.img");
        BenchImage.EnsureRandomFile(image, size, log);
        string torrent = Path.Combine(sourceDir, $"seed-{size >> 20}M-{pieceSize}.torrent");
        if (!File.Exists(torrent) || File.GetLastWriteTimeUtc(torrent) < File.GetLastWriteTimeUtc(image))
        {
            var (file, arguments) = CliCommand.For(cli, ["create", "--source", image, "--map", "all", "--piece-size", pieceSize, "-o", torrent]);
            Exec.Run(file, [.. arguments]);
        }
        return (image, torrent);
    }

    /// <summary>Removes the last run's files, writes back every dirty page, and (as root) empties the page cache.</summary>
    private static void Clean(string targetDir, bool root)
    {
        foreach (var f in Directory.EnumerateFiles(targetDir)) File.Delete(f);
        Exec.Run("sync");
        if (root) File.WriteAllText("/proc/sys/vm/drop_caches", "3");
    }

    private static Sample Fetch(Contender c, string image, string torrent, string targetDir, long size, string logs)
    {
        var (seedFile, seedArgs) = CliCommand.For(c.Cli!, ["seed", "--torrent", torrent, "--source", image, "--listen", "127.0.0.1:6881"]);
        using var seed = RunningProcess.Start(new ProcessSpec(seedFile, [.. seedArgs])
        {
            Label = "seed",
            LogFile = Path.Combine(logs, "seed.log"),
            MeasureUsage = true,
            Environment = c.Environment,
        });
        seed.WaitForListener("127.0.0.1", 6881, TimeSpan.FromSeconds(30));
        string target = Path.Combine(targetDir, "target.img");
        var (fetchFile, fetchArgs) = CliCommand.For(c.Cli!, ["fetch", "--torrent", torrent, "--target", target,
            "--listen", "127.0.0.2:6881", "--peer", "127.0.0.1:6881", .. c.Args]);
        string name = string.Concat(c.Name.Split(Path.GetInvalidFileNameChars().Append(' ').ToArray()));
        using var dirty = new DirtyPeak();
        using var fetch = RunningProcess.Start(new ProcessSpec(fetchFile, [.. fetchArgs])
        {
            Label = "fetch",
            LogFile = Path.Combine(logs, name + ".log"),
            MeasureUsage = true,
            Environment = c.Environment,
        });
        int code = fetch.WaitForExit(Timeout);
        long peakDirty = dirty.Stop();
        if (code != 0) throw new InvalidOperationException($"{c.Name}: fetch exited {code}:\n{fetch.Tail()}");
        if (new FileInfo(target).Length != size) throw new InvalidOperationException($"{target} has the wrong size");
        // The default mode writes this disk with O_DIRECT; if it fell back, the run measured something else: say so.
        if (fetch.Output.Contains("not with O_DIRECT", StringComparison.Ordinal) && c.Args.Length == 0)
            Console.Error.WriteLine($"note: {c.Name} wrote buffered: {fetch.Output.Split('\n').First(l => l.Contains("not with O_DIRECT", StringComparison.Ordinal))}");
        seed.Terminate();
        return new Sample(fetch.WallTime.TotalSeconds, fetch.Usage().CpuSeconds, seed.Usage().CpuSeconds, peakDirty);
    }

    private static Sample Dd(string targetDir, long size, string logs)
    {
        using var dirty = new DirtyPeak();
        using var dd = RunningProcess.Start(new ProcessSpec("dd", "if=/dev/zero", $"of={Path.Combine(targetDir, "dd.img")}", "bs=16M",
            $"count={size >> 24}", "oflag=direct", "conv=fsync")
        {
            Label = "dd",
            LogFile = Path.Combine(logs, "dd.log"),
            MeasureUsage = true,
        });
        int code = dd.WaitForExit(Timeout);
        long peakDirty = dirty.Stop();
        if (code != 0) throw new InvalidOperationException($"dd exited {code}:\n{dd.Tail()}");
        return new Sample(dd.WallTime.TotalSeconds, dd.Usage().CpuSeconds, 0, peakDirty);
    }

    /// <summary>The block device and file system under a directory, for the report (findmnt).</summary>
    private static string MountOf(string dir) =>
        Tool.Run("findmnt", ["-n", "-o", "SOURCE,FSTYPE", "--target", dir], check: false).StdOut.Trim() is { Length: > 0 } d
            ? string.Join(' ', d.Split(' ', StringSplitOptions.RemoveEmptyEntries)) : "?";

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>Samples /proc/meminfo's Dirty every 50 ms on a thread of its own until stopped; the peak, in bytes.</summary>
    private sealed class DirtyPeak : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private long _peak;

        public DirtyPeak()
        {
            _thread = new Thread(Sample) { IsBackground = true, Name = "dirty-peak" };
            _thread.Start();
        }

        private void Sample()
        {
            while (!_stop.IsCancellationRequested)
            {
                _peak = Math.Max(_peak, Read());
                _stop.Token.WaitHandle.WaitOne(50);
            }
        }

        private static long Read()
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("Dirty:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) << 10;
            return 0;
        }

        public long Stop()
        {
            _stop.Cancel();
            _thread.Join();
            return _peak;
        }

        public void Dispose()
        {
            if (!_stop.IsCancellationRequested) Stop();
            _stop.Dispose();
        }
    }
}
