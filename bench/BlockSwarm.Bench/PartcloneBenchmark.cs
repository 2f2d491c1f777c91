using System.Diagnostics;
using System.Globalization;
using BlockSwarm.Clonezilla.Compression;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// Reading a Clonezilla partition image straight out of its compressed file (issue 14): the whole pass BlockSwarm
/// makes over an image (decompress, parse, verify every partclone checksum) against the native decompressor alone
/// (<c>zstd -d -c … &gt; /dev/null</c>, <c>pigz -d</c>, …) on the same file, interleaved per repetition, medians.
/// The image: a 1 GiB ext4 filled with a copy of files from /usr (real, compressible data), saved by partclone.
/// </summary>
public static class PartcloneBenchmark
{
    private const long ContentBytes = 800L << 20;

    private sealed record Contender(string Label, string Suffix, string Compress, string Native);

    private static readonly Contender[] s_all =
    [
        new("zstd -3", "zst", "zstd -q -3 -c", "zstd -q -d -c"),
        new("zstd -3 -T0", "zst", "zstd -q -3 -T0 -c", "zstd -q -d -c"),
        new("pigz", "gz", "pigz -c", "pigz -d -c"),
        new("pigz (vs gzip -d)", "gz", "pigz -c", "gzip -d -c"),
        new("lz4", "lz4", "lz4 -q -c", "lz4 -q -d -c"),
        new("lzop", "lzo", "lzop -c", "lzop -d -c"),
        new("xz -1 -T0", "xz", "xz -1 -T0 -c", "xz -d -c"),
        new("bzip2", "bz2", "bzip2 -c", "bzip2 -d -c"),
        new("uncomp", "uncomp", "cat", "cat"),
    ];

    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        string cache = Option("--cache") ?? "/tmp/blockswarm-bench/partclone";
        int reps = int.Parse(Option("--reps") ?? "5", CultureInfo.InvariantCulture);
        var only = (Option("--codecs") ?? "zstd -3,zstd -3 -T0,pigz,pigz (vs gzip -d)").Split(',');
        var contenders = s_all.Where(c => only.Contains(c.Label) || only.Contains("all")).ToArray();

        var image = EnsureImage(cache, log);
        var files = contenders.ToDictionary(c => c, c => EnsureCompressed(cache, image, c, log));
        long imageBytes = new FileInfo(image).Length;
        foreach (var f in files.Values.Distinct()) WarmPageCache(f);

        // One untimed pass each: the reader must accept the image (every checksum) before it is timed.
        long usedBytes = 0;
        foreach (var f in files.Values.Distinct()) usedBytes = OurPass(f).Used;
        var ours = contenders.ToDictionary(c => c, _ => new List<double>());
        var native = contenders.ToDictionary(c => c, _ => new List<double>());
        for (int r = 0; r < reps; r++)
        {
            foreach (var c in contenders)
            {
                native[c].Add(Tool.Sh($"{c.Native} '{files[c]}' > /dev/null").Elapsed.TotalSeconds);
                ours[c].Add(OurPass(files[c]).Seconds);
            }
        }
        log.WriteLine($"image: {imageBytes / 1e6:F0} MB partclone stream ({usedBytes / 1e6:F0} MB of used blocks) of a 1 GiB ext4 holding {ContentBytes >> 20} MiB from /usr; {reps} reps, interleaved, medians");
        log.WriteLine("| compression | file MB | native decompressor | native s | native MB/s | BlockSwarm pass s | BlockSwarm MB/s | ratio |");
        log.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var c in contenders)
        {
            double n = Median(native[c]), o = Median(ours[c]);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Label} | {new FileInfo(files[c]).Length / 1e6:F0} | `{c.Native}` | {n:F3} | {imageBytes / n / 1e6:F0} | {o:F3} | {imageBytes / o / 1e6:F0} | {n / o:F2}× |"));
        }
        log.WriteLine("ratio = native time / BlockSwarm time (issue 14's goal: ≥ 0.8 for zstd); MB/s of the decompressed partclone stream");
        return 0;
    }

    /// <summary>The whole pass: decompress, parse, verify every checksum, hand out every used block.</summary>
    private static (double Seconds, long Used) OurPass(string file)
    {
        var sw = Stopwatch.StartNew();
        using var reader = PartcloneImageReader.Open(file);
        long used = 0;
        while (reader.TryReadBlocks(out var blocks)) used += blocks.Length;
        return (sw.Elapsed.TotalSeconds, used);
    }

    private static string EnsureImage(string cache, TextWriter log)
    {
        Directory.CreateDirectory(cache);
        var image = Path.Combine(cache, "sda1.ext4-ptcl-img.uncomp");
        if (File.Exists(image)) return image;
        var device = Path.Combine(cache, "ext4-1G.img");
        var content = Path.Combine(cache, "content");
        log.WriteLine($"building {device}: 1 GiB ext4 with {ContentBytes >> 20} MiB of files copied from /usr ...");
        if (Directory.Exists(content)) Directory.Delete(content, recursive: true);
        ContentTree.FromUsr(content, ContentBytes);
        FsImage.Ext4(device, 1L << 30, content, ["-b", "4096"]);
        Directory.Delete(content, recursive: true);
        // Saved beside the cache and renamed: an interrupted run never leaves a half-written image behind.
        Exec.Run("partclone.extfs", "-c", "-q", "-s", device, "-o", image + ".tmp", "-L", Path.Combine(cache, "partclone.log"));
        File.Move(image + ".tmp", image);
        File.Delete(device);
        return image;
    }

    private static string EnsureCompressed(string cache, string image, Contender c, TextWriter log)
    {
        if (c.Suffix == "uncomp") return image;
        var dir = Path.Combine(cache, c.Compress.Replace(' ', '_'));
        var file = Path.Combine(dir, "sda1.ext4-ptcl-img." + c.Suffix);
        if (File.Exists(file) && File.GetLastWriteTimeUtc(file) >= File.GetLastWriteTimeUtc(image)) return file;
        Directory.CreateDirectory(dir);
        log.WriteLine($"compressing with {c.Compress} ...");
        Tool.Run("/bin/bash", ["-c", $"{c.Compress} < '{image}' > '{file}.tmp' && mv '{file}.tmp' '{file}'"], timeout: TimeSpan.FromHours(1));
        _ = ClonezillaImageStream.CompressionOf(file);
        return file;
    }

    internal static void WarmPageCache(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[8 << 20];
        while (fs.Read(buffer) > 0) { }
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
