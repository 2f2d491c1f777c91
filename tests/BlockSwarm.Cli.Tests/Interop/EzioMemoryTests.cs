using System.Globalization;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// Issue 15: the daemon's RSS stays within <c>--cache-size</c> + 64 MiB whatever the image size. A client daemon with
/// <c>--cache-size 64</c> fetches 1 GiB in Clonezilla's 16 MiB pieces (16 times its cache, four pieces fill it) from a
/// seeding daemon; GNU time reports its peak RSS from the kernel's rusage at exit.
/// </summary>
public sealed class EzioMemoryTests(ITestOutputHelper output)
{
    private const int CacheMiB = 64;
    private const long Size = 1L << 30;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    [Requires("time", Need.PythonGrpc)]
    public async Task A_client_daemon_with_a_64_MiB_cache_fetches_1_GiB_within_cache_plus_64_MiB()
    {
        string bin = NativeCliTests.Binary();
        using var dir = new TempDirectory("ezio-rss");
        var py = EzioClientScript.Generate(dir);
        var ezio = EzioClientScript.EzioLink(dir);
        int trackerPort = FreePort.Tcp();
        using var tracker = RunningProcess.Start(bin, "tracker", "--listen", $"127.0.0.1:{trackerPort}");
        await tracker.WaitForListenerAsync("127.0.0.1", trackerPort, TimeSpan.FromSeconds(30), Ct);

        var img = dir.File("sda1.img");
        var rnd = new Random(15);
        var chunk = new byte[8 << 20];
        using (var f = File.Create(img))
            for (long at = 0; at < Size; at += chunk.Length)
            {
                rnd.NextBytes(chunk);
                f.Write(chunk);
            }
        Torrent t;
        using (var dev = DeviceFile.OpenRead(img))
            t = TorrentCreator.Create(dev, BlockMap.FromExtents(Size, 1, [new Extent(0, Size)]),
                new CreateOptions { Name = "sda1", PieceLength = 16 << 20, Trackers = [$"http://127.0.0.1:{trackerPort}/announce"] });
        var torrentPath = dir.File("sda1.torrent");
        File.WriteAllBytes(torrentPath, t.Raw.ToArray());
        var target = FsImage.Blank(dir.File("sda1.target"), Size);

        int seedGrpc = FreePort.Tcp(), leechGrpc = FreePort.Tcp();
        string seedAddr = $"127.0.0.1:{seedGrpc}", leechAddr = $"127.0.0.1:{leechGrpc}";
        using var seed = RunningProcess.Start(ezio, "-l", seedAddr, "--bind-ip", "127.0.0.140", "-p", "6881", "--resume-dir", dir.Path);
        using var leech = RunningProcess.Start(new ProcessSpec(ezio, "-l", leechAddr, "--bind-ip", "127.0.0.141", "-p", "6881",
            "--cache-size", CacheMiB.ToString(CultureInfo.InvariantCulture), "--resume-dir", dir.Path) { MeasureUsage = true });
        await seed.WaitForListenerAsync("127.0.0.1", seedGrpc, TimeSpan.FromSeconds(30), Ct);
        await leech.WaitForListenerAsync("127.0.0.1", leechGrpc, TimeSpan.FromSeconds(30), Ct);
        py.Run(seedAddr, "add", torrentPath, img, "--seed", "--max-uploads", "5", "--max-connections", "6");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        py.Run(leechAddr, "add", torrentPath, target, "--max-uploads", "5", "--max-connections", "6");
        var wait = py.Run(false, leechAddr, "wait", "240", t.InfoHash.ToHex());
        Assert.True(wait.ExitCode == 0, $"{wait.StdErr}\nleech:\n{leech.Tail(30)}\nseed:\n{seed.Tail(30)}");
        double seconds = sw.Elapsed.TotalSeconds;
        py.Run(leechAddr, "shutdown");
        Assert.Equal(0, await leech.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        py.Run(seedAddr, "shutdown");
        Assert.Equal(0, await seed.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Null(BlockImageLayout.Create(t).FirstDifference(img, target));

        long peak = leech.Usage().PeakRssBytes;
        output.WriteLine($"client daemon: 1 GiB in {seconds:0.0} s, peak RSS {peak >> 20} MiB with --cache-size {CacheMiB} (budget {CacheMiB + 64} MiB)");
        Assert.True(peak <= (CacheMiB + 64L) << 20, $"client daemon peak RSS {peak >> 20} MiB with --cache-size {CacheMiB} (allowed: {CacheMiB + 64} MiB)");
    }
}
