using System.Diagnostics;
using System.Globalization;
using BlockSwarm.Testing;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>create</c>: hashing an ext4 image into a 16 MiB-piece block-image torrent, against
/// partclone's own torrent.info generation and sha1sum over the same bytes, all measured in
/// this run on this machine. Results are ratios, never timed assertions.
/// </summary>
public static class CreateBenchmark
{
    private sealed record Row(string Name, IReadOnlyList<double> Seconds, long Bytes, string Note)
    {
        public double Median => Seconds.Order().ElementAt(Seconds.Count / 2);
        public double GBps => Bytes / Median / 1e9;
    }

    public static int Run(string cacheDir, int reps, TextWriter log)
    {
        var image = BenchImage.Ensure(cacheDir, log);
        var info = PartcloneTorrentInfo.Load(image.TorrentInfo);
        long used = info.Map.UsedBytes;
        long size = new FileInfo(image.Path).Length;
        string cliPath = TransferBenchmark.DefaultCli;
        var outDir = Directory.CreateTempSubdirectory("blockswarm-bench-").FullName;
        log.WriteLine($"image       {image.Path}: {size} bytes, {used} used in {info.Map.Extents.Length} extents (partclone torrent.info)");
        log.WriteLine($"machine     {Environment.ProcessorCount} cores, .NET {Environment.Version}, {reps} repetitions, median");
        image.WarmPageCache();

        var rows = new List<Row>();
        try
        {
            using var dev = DeviceFile.OpenRead(image.Path);
            var options = new CreateOptions { Name = "bench", PieceLength = PartcloneTorrentInfo.PartclonePieceLength, ExpectedPieceHashes = info.PieceHashes };

            // One untimed run to JIT, and to check our hashes equal partclone's (ExpectedPieceHashes).
            var reference = TorrentCreator.Create(dev, info.Map, options);
            log.WriteLine($"info-hash   {reference.InfoHash.ToHex()} ({reference.PieceCount} pieces; piece hashes equal partclone's)");

            // Contenders are interleaved per repetition so drift (other load, thermal) hits all alike.
            var inProc = new List<double>();
            var cli = new List<double>();
            var oneThread = new List<double>();
            var partclone = new List<double>();
            var sha1sum = new List<double>();
            var nonzero = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                inProc.Add(Time(() => TorrentCreator.Create(dev, info.Map, options)));
                var (file, arguments) = CliCommand.For(cliPath, ["create", "--source", image.Path, "--map", $"partclone:{image.TorrentInfo}",
                    "--piece-size", "16MiB", "-o", Path.Combine(outDir, "cli.torrent")]);
                cli.Add(Exec.Run(file, [.. arguments]).TotalSeconds);
                oneThread.Add(Time(() => new PieceHasher(dev, new ExtentStream(info.Map.Extents), options.PieceLength) { Parallelism = 1 }.HashAll()));
                partclone.Add(Exec.Run("partclone.extfs", "-c", "-t", "-s", image.Path, "-O", Path.Combine(outDir, "pc"),
                    "-L", Path.Combine(outDir, "pc.log")).TotalSeconds);
                sha1sum.Add(Exec.Run("sha1sum", image.Path).TotalSeconds * used / size);
                nonzero.Add(Time(() => NonZeroMapper.Map(dev)));
                log.WriteLine($"rep {r + 1}/{reps}: blockswarm {inProc[^1]:0.000} s, cli {cli[^1]:0.000} s, partclone {partclone[^1]:0.000} s, sha1sum {sha1sum[^1]:0.000} s");
            }
            rows.Add(new("blockswarm create (in-process)", inProc, used, $"TorrentCreator, {Environment.ProcessorCount} workers"));
            rows.Add(new("blockswarm create (CLI)", cli, used, "whole process: start, parse map, hash, write"));
            rows.Add(new("PieceHasher, 1 thread", oneThread, used, "same code, Parallelism = 1"));
            rows.Add(new("partclone.extfs -c -t", partclone, used, "partclone's torrent.info, single-threaded SHA-1"));
            rows.Add(new("sha1sum (scaled to used)", sha1sum, used, $"sha1sum of the {size >> 20} MiB image × used/size"));
            rows.Add(new("--map nonzero scan", nonzero, size, "NonZeroMapper over the whole image"));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }

        log.WriteLine();
        log.WriteLine($"{"",-32} {"median s",9} {"GB/s",7}  runs (s)");
        foreach (var row in rows)
            log.WriteLine($"{row.Name,-32} {row.Median,9:0.000} {row.GBps,7:0.00}  {string.Join(' ', row.Seconds.Select(s => s.ToString("0.000", CultureInfo.InvariantCulture)))}  {row.Note}");
        double ours = rows[0].Median, ourCli = rows[1].Median;
        log.WriteLine();
        log.WriteLine($"speed-up vs partclone: {rows[3].Median / ours:0.00}× in-process, {rows[3].Median / ourCli:0.00}× CLI (goal ≥ 1.8×)");
        log.WriteLine($"speed-up vs sha1sum:   {rows[4].Median / ours:0.00}× in-process, {rows[4].Median / ourCli:0.00}× CLI");
        log.WriteLine($"parallel speed-up:     {rows[2].Median / ours:0.00}× over one thread of the same code");
        return 0;
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }
}
