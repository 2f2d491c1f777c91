using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// The benchmark's ext4 image: 1200 MiB with 64 × 16 MiB of random (incompressible) files,
/// built once with <c>mkfs.ext4 -d</c> (<see cref="FsImage"/>) and cached, with partclone's torrent.info beside it.
/// </summary>
public sealed class BenchImage
{
    public const long ImageBytes = 1200L << 20;
    public const int FileCount = 64;
    public const int FileBytes = 16 << 20;

    private BenchImage(string path, string torrentInfo)
    {
        Path = path;
        TorrentInfo = torrentInfo;
    }

    public string Path { get; }
    public string TorrentInfo { get; }

    public static BenchImage Ensure(string cacheDir, TextWriter log)
    {
        Directory.CreateDirectory(cacheDir);
        var image = System.IO.Path.Combine(cacheDir, "ext4-1200M.img");
        if (!File.Exists(image))
        {
            log.WriteLine($"building {image} (64 × 16 MiB random files in ext4)...");
            var src = System.IO.Path.Combine(cacheDir, "src");
            if (Directory.Exists(src)) Directory.Delete(src, recursive: true);
            ContentTree.Random(src, 1200, Enumerable.Range(0, FileCount).Select(i => ($"f{i}.bin", FileBytes)));
            // Built beside the cache and renamed: an interrupted build never leaves a half-made image behind.
            var tmp = FsImage.Ext4(image + ".tmp", ImageBytes, src);
            Directory.Delete(src, recursive: true);
            File.Move(tmp, image);
        }
        var info = System.IO.Path.Combine(cacheDir, "torrent.info");
        if (!File.Exists(info) || File.GetLastWriteTimeUtc(info) < File.GetLastWriteTimeUtc(image))
            File.Copy(FsImage.PartcloneTorrentInfo(image, "extfs", System.IO.Path.Combine(cacheDir, "partclone-ref")), info, overwrite: true);
        return new BenchImage(image, info);
    }

    /// <summary>Writes <paramref name="path"/> with <paramref name="size"/> random bytes unless it already has that size (kept between runs).</summary>
    public static void EnsureRandomFile(string path, long size, TextWriter log)
    {
        if (File.Exists(path) && new FileInfo(path).Length == size) return;
        log.WriteLine($"building {path} ({size >> 20} MiB of random bytes)...");
        using (var fs = new FileStream(path + ".tmp", FileMode.Create))
        {
            var buffer = new byte[8 << 20];
            for (long done = 0; done < size; done += buffer.Length)
            {
                System.Security.Cryptography.RandomNumberGenerator.Fill(buffer);
                fs.Write(buffer, 0, (int)Math.Min(buffer.Length, size - done));
            }
        }
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>Reads the image once so every contender starts from a warm page cache.</summary>
    public void WarmPageCache()
    {
        using var fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[8 << 20];
        while (fs.Read(buffer) > 0) { }
    }
}

