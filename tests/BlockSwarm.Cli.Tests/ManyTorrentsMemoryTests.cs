using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// One host, many torrents, one memory budget: 64 torrents in one <c>seed</c> and one <c>fetch</c> process (the native
/// binary, as it ships), the fetch's peak RSS (the kernel's rusage, through GNU time) within its <c>--cache</c> plus
/// 64 MiB, and every target bit-exact. <c>blockswarm-bench many</c> measures the same at larger sizes.
/// </summary>
public sealed class ManyTorrentsMemoryTests
{
    [Fact]
    [Requires("time")]
    public void Sixty_four_torrents_in_one_fetch_stay_within_the_cache_budget_and_arrive_bit_exact()
    {
        string bin = NativeCliTests.Binary();
        using var dir = new TempDirectory("many-torrents");
        const int Count = 64;
        var seedArgs = new List<string> { "seed", "--listen", "127.0.0.21:6881", "--no-pex", "--log-level", "warning" };
        var fetchArgs = new List<string> { "fetch", "--listen", "127.0.0.22:6881", "--peer", "127.0.0.21:6881", "--no-pex", "--cache", "64MiB", "--log-level", "warning" };
        for (int i = 0; i < Count; i++)
        {
            var img = dir.File($"disk{i:00}.img");
            var data = new byte[3 << 20];
            new Random(i).NextBytes(data);
            File.WriteAllBytes(img, data);
            using var dev = DeviceFile.OpenRead(img);
            var t = TorrentCreator.Create(dev, BlockMap.FromExtents(data.Length, 1, [new Extent(0, data.Length)]),
                new CreateOptions { Name = $"disk{i:00}", PieceLength = 256 << 10 });
            var torrent = dir.File($"disk{i:00}.torrent");
            File.WriteAllBytes(torrent, t.Raw.ToArray());
            seedArgs.AddRange(["--torrent", torrent, "--source", img]);
            fetchArgs.AddRange(["--torrent", torrent, "--target", dir.File($"target{i:00}.img")]);
        }
        using var seed = RunningProcess.Start(bin, [.. seedArgs]);
        seed.WaitForListener("127.0.0.21", 6881, TimeSpan.FromSeconds(30));
        using var fetch = RunningProcess.Start(new ProcessSpec(bin, [.. fetchArgs]) { MeasureUsage = true });
        Assert.True(fetch.WaitForExit(TimeSpan.FromMinutes(2)) == 0, fetch.Tail());
        seed.Terminate();
        Assert.Contains($"complete: {Count} torrents", fetch.StdOut, StringComparison.Ordinal);

        long peak = fetch.Usage().PeakRssBytes;
        Assert.True(peak <= (64L + 64) << 20, $"fetch peak RSS {peak >> 20} MiB with --cache 64MiB (allowed: 128 MiB)");
        for (int i = 0; i < Count; i++)
            Assert.True(File.ReadAllBytes(dir.File($"disk{i:00}.img")).AsSpan().SequenceEqual(File.ReadAllBytes(dir.File($"target{i:00}.img"))), $"target {i} differs");
    }
}
