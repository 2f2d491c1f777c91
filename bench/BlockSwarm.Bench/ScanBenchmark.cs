using System.Diagnostics;
using System.Globalization;
using BlockSwarm.Imaging;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Devices;

namespace BlockSwarm.Bench;

/// <summary>
/// Used-block scan of large, mostly empty filesystems: our scanners read metadata only, so the
/// bytes they read and their time barely grow with the volume; partclone's <c>-c -t</c> reads its
/// bitmap and then the used data (it hashes it for torrent.info). Both measured in the same run.
/// </summary>
public static class ScanBenchmark
{
    public static int Run(string cacheDir, int reps, TextWriter log)
    {
        Directory.CreateDirectory(cacheDir);
        var content = Path.Combine(cacheDir, "scan-content");
        if (!Directory.Exists(content))
        {
            Directory.CreateDirectory(content);
            var rng = new Random(42);
            var buf = new byte[1 << 20];
            for (int i = 0; i < 64; i++)
            {
                rng.NextBytes(buf);
                File.WriteAllBytes(Path.Combine(content, $"f{i:00}.bin"), buf);
            }
        }
        log.WriteLine("| filesystem | volume | used | scanner | bytes read | median s | partclone -c -t median s | ratio |");
        log.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (fs, size, mkfs, partclone) in new[]
        {
            ("ext4", "64G", new[] { "mkfs.ext4", "-q", "-F", "-d", content }, "partclone.extfs"),
            ("xfs", "64G", new[] { "mkfs.xfs", "-q", "-f" }, "partclone.xfs"),
        })
        {
            var img = Path.Combine(cacheDir, $"scan-{fs}-{size}.img");
            if (!File.Exists(img))
            {
                Exec.Run("truncate", "-s", size, img);
                Exec.Run(mkfs[0], [.. mkfs[1..], img]);
            }
            var scanner = FileSystemDetector.ByName(fs == "ext4" ? "ext" : fs) ?? throw new InvalidOperationException($"no {fs} scanner");
            var ours = new List<double>();
            BlockMap? map = null;
            long bytesRead = 0;
            for (int r = 0; r < reps; r++)
            {
                var sw = Stopwatch.StartNew();
                using (var dev = DeviceFile.OpenRead(img)) map = scanner.Scan(dev, 0, dev.Size);
                ours.Add(sw.Elapsed.TotalSeconds);
                bytesRead = scanner switch { ExtScanner e => e.BytesRead, XfsScanner x => x.BytesRead, _ => -1 };
            }
            var theirs = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                var outDir = Directory.CreateTempSubdirectory("bs-scan-pc-").FullName;
                try { theirs.Add(Exec.Run(partclone, "-c", "-t", "-s", img, "-O", outDir, "-L", Path.Combine(outDir, "log")).TotalSeconds); }
                finally { Directory.Delete(outDir, true); }
            }
            double a = Median(ours), b = Median(theirs);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {fs} | {size} | {SizeParser.Format(map!.UsedBytes)} | {scanner.Name} | {SizeParser.Format(bytesRead)} | {a:0.000} | {b:0.000} | {b / a:0.0}× |"));
        }
        log.WriteLine("partclone -c -t also reads and hashes the used data for torrent.info; our scan reads metadata only (hashing is `create`'s second pass).");
        return 0;
    }

    private static double Median(List<double> v)
    {
        v.Sort();
        return v[v.Count / 2];
    }
}
