using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Jobs;

public sealed class ImageJobCacheTests
{
    [Fact]
    public void A_cached_job_is_reused_until_a_file_of_the_directory_changes()
    {
        using var images = new TempDirectory("cz-images");
        using var cacheRoot = new TempDirectory("cz-cache");
        File.WriteAllText(images.File("disk"), "sda\n");
        File.WriteAllBytes(images.File("sda1.ext4-ptcl-img.zst.aa"), new byte[1000]);
        var cache = new ImageJobCache(cacheRoot.Path);
        var torrent = new TorrentBuilder("sda", 16 << 10) { PieceHashes = new byte[20] }.AddFile(["00000000000000000000000000000000"], 1000).Build();

        Assert.Null(cache.TryLoad(images.Path, "sda", out var why));
        Assert.Contains("no cached index", why, StringComparison.Ordinal);
        cache.Save(images.Path, "sda", torrent);
        Assert.StartsWith(cacheRoot.Path, cache.DirectoryFor(images.Path), StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.EnumerateFiles(images.Path), f => f.EndsWith(".torrent", StringComparison.Ordinal));
        Assert.Equal(torrent.InfoHash, cache.TryLoad(images.Path, "sda", out why)!.InfoHash);
        Assert.Contains("reused", why, StringComparison.Ordinal);

        File.AppendAllText(images.File("sda1.ext4-ptcl-img.zst.aa"), "x");
        Assert.Null(cache.TryLoad(images.Path, "sda", out why));
        Assert.Contains("changed", why, StringComparison.Ordinal);
    }
}
