using System.Globalization;
using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>many</c>: one <c>blockswarm seed</c> process serving N torrents on one port and one <c>blockswarm fetch</c> process
/// downloading all N (targets on tmpfs) with a <c>--cache</c> budget. Reports both processes' peak RSS (GNU time's
/// rusage) against the budget: the host's memory must stay within the budget plus 64 MiB however many torrents it
/// runs. Every target is compared with its source byte for byte.
/// </summary>
internal static class ManyTorrentsBenchmark
{
    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (Environment.GetEnvironmentVariable(TransferBenchmark.NetnsVariable) != "1") return TransferBenchmark.ReexecInNetns(args);

        int count = int.Parse(Option("--torrents") ?? "64", CultureInfo.InvariantCulture);
        int sizeMib = int.Parse(Option("--size-mib") ?? "16", CultureInfo.InvariantCulture);
        string cache = Option("--cache") ?? "128MiB";
        string dir = Option("--dir") ?? "/tmp/blockswarm-bench/many";
        string tmpfs = Option("--tmpfs") ?? "/dev/shm/blockswarm-bench-many";
        string cli = Path.GetFullPath(Option("--cli") ?? TransferBenchmark.DefaultCli);
        Exec.Run("ip", "link", "set", "lo", "up");
        Directory.CreateDirectory(dir);
        if (Directory.Exists(tmpfs)) Directory.Delete(tmpfs, recursive: true);
        Directory.CreateDirectory(tmpfs);

        var torrents = new List<(string Torrent, string Image)>();
        for (int i = 0; i < count; i++)
        {
            string img = Path.Combine(dir, $"disk{i:00}-{sizeMib}M.img"), torrent = Path.Combine(dir, $"disk{i:00}-{sizeMib}M.torrent");
            if (!File.Exists(torrent))
            {
                var data = new byte[sizeMib << 20];
                new Random(i).NextBytes(data);
                File.WriteAllBytes(img, data);
                var (file, createArgs) = CliCommand.For(cli, ["create", "--source", img, "--map", "all", "--piece-size", "1MiB", "--name", $"disk{i:00}", "-o", torrent]);
                Tool.Run(file, createArgs);
            }
            torrents.Add((torrent, img));
        }
        long total = (long)count * sizeMib << 20;
        log.WriteLine($"machine     {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        log.WriteLine($"torrents    {count} × {sizeMib} MiB random (1 MiB pieces) = {total >> 20} MiB, one seed process, one fetch process, --cache {cache}");

        var logs = Path.Combine(dir, "logs");
        var seedArgs = new List<string> { "seed", "--listen", "127.0.0.1:6881", "--no-pex" };
        foreach (var (t, img) in torrents) seedArgs.AddRange(["--torrent", t, "--source", img]);
        var (seedFile, seedArgv) = CliCommand.For(cli, seedArgs);
        using var seed = RunningProcess.Start(new ProcessSpec(seedFile, [.. seedArgv]) { Label = "seed", LogFile = Path.Combine(logs, "many-seed.log"), MeasureUsage = true });
        seed.WaitForListener("127.0.0.1", 6881, TimeSpan.FromSeconds(60));

        var fetchArgs = new List<string> { "fetch", "--listen", "127.0.0.2:6881", "--peer", "127.0.0.1:6881", "--no-pex", "--cache", cache };
        for (int i = 0; i < count; i++) fetchArgs.AddRange(["--torrent", torrents[i].Torrent, "--target", Path.Combine(tmpfs, $"t{i:00}.img")]);
        var (fetchFile, fetchArgv) = CliCommand.For(cli, fetchArgs);
        using var fetch = RunningProcess.Start(new ProcessSpec(fetchFile, [.. fetchArgv]) { Label = "fetch", LogFile = Path.Combine(logs, "many-fetch.log"), MeasureUsage = true });
        int code = fetch.WaitForExit(TimeSpan.FromMinutes(20));
        seed.Terminate();
        if (code != 0) throw new InvalidOperationException($"fetch exited {code}:\n{fetch.Tail()}");

        for (int i = 0; i < count; i++)
        {
            var target = Path.Combine(tmpfs, $"t{i:00}.img");
            if (!File.ReadAllBytes(torrents[i].Image).AsSpan().SequenceEqual(File.ReadAllBytes(target)))
                throw new InvalidOperationException($"{target} differs from {torrents[i].Image}");
        }
        Directory.Delete(tmpfs, recursive: true);

        long budget = Devices.SizeParser.Parse(cache);
        var s = seed.Usage();
        var f = fetch.Usage();
        log.WriteLine($"fetch       {fetch.WallTime.TotalSeconds:0.00} s, {total / fetch.WallTime.TotalSeconds / 1e9:0.00} GB/s, every target bit-exact");
        log.WriteLine($"peak RSS    fetch {f.PeakRssBytes >> 20} MiB (budget {budget >> 20} MiB + 64 MiB = {(budget >> 20) + 64} MiB: {(f.PeakRssBytes <= budget + (64L << 20) ? "within" : "OVER")})");
        log.WriteLine($"            seed {s.PeakRssBytes >> 20} MiB (default budget {Engine.Hosting.EngineOptions.DefaultMemoryBytes >> 20} MiB + 64 MiB = {(Engine.Hosting.EngineOptions.DefaultMemoryBytes >> 20) + 64} MiB: {(s.PeakRssBytes <= Engine.Hosting.EngineOptions.DefaultMemoryBytes + (64L << 20) ? "within" : "OVER")})");
        log.WriteLine($"CPU         fetch {f.CpuSeconds:0.00} s, seed {s.CpuSeconds:0.00} s");
        return f.PeakRssBytes <= budget + (64L << 20) ? 0 : 1;
    }
}
