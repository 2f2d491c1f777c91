using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>Small real filesystem images made by the real tools.</summary>
internal static class ImageFixtures
{
    /// <summary>An ext4 image (4 KiB blocks unless told) holding a few files of seeded random data, made by mkfs.ext4 -d.</summary>
    public static string Ext4(TempDirectory dir, string name = "sda1.img", int sizeMiB = 96, int seed = 1, int blockSize = 4096)
    {
        var content = Directory.CreateDirectory(dir.File(name + ".content")).FullName;
        var rng = new Random(seed);
        foreach (var (file, size) in new[] { ("big.bin", 20 << 20), ("medium.bin", 3 << 20), ("small.txt", 1234) })
        {
            var bytes = new byte[size];
            rng.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(content, file), bytes);
        }
        Directory.CreateDirectory(Path.Combine(content, "etc"));
        File.WriteAllText(Path.Combine(content, "etc", "hostname"), "lab-pc-01\n");
        var img = dir.File(name);
        Tool.Run("truncate", "-s", $"{sizeMiB}M", img);
        Tool.Run("mkfs.ext4", "-q", "-F", "-b", blockSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "-E", "root_owner=0:0", "-d", content, img);
        return img;
    }

    /// <summary>Runs partclone's torrent.info generation (-c -t) and returns the torrent.info path.</summary>
    public static string PartcloneTorrentInfo(TempDirectory dir, string image, string fs = "extfs", string? bufferSize = null)
    {
        var outDir = Directory.CreateDirectory(dir.File("partclone-" + Path.GetFileName(image))).FullName;
        var args = new List<string> { "-c", "-t", "-s", image, "-O", outDir, "-L", Path.Combine(outDir, "log") };
        if (bufferSize != null) args.AddRange(["-z", bufferSize]);
        Tool.Run($"partclone.{fs}", args);
        return Path.Combine(outDir, "torrent.info");
    }
}
