using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// A room mixing the EZIO daemon with libtorrent 2.0 peers (python3-libtorrent, the library EZIO is built on), both
/// ways, found through a tracker and driven over EZIO's API by the Python client: libtorrent seeds a partition torrent
/// to the daemon; then, libtorrent's seed gone, the daemon seeds it to a libtorrent leech. (A real EZIO v2.0.29 build
/// against Debian's libtorrent 2.0.8 was run the same way by hand, both ways: see docs/operator-guide.md.)
/// </summary>
public sealed class EzioLibtorrentInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    [Requires(Need.PythonLibtorrent)]
    public async Task The_daemon_fetches_from_and_seeds_to_libtorrent_peers_through_a_tracker()
    {
        string bin = NativeCliTests.Binary();
        using var dir = new TempDirectory("ezio-lt");
        var py = EzioClientScript.Generate(dir);
        var ezio = EzioClientScript.EzioLink(dir);
        int trackerPort = FreePort.Tcp();
        using var tracker = RunningProcess.Start(bin, "tracker", "--listen", $"127.0.0.1:{trackerPort}");
        await tracker.WaitForListenerAsync("127.0.0.1", trackerPort, TimeSpan.FromSeconds(30), Ct);
        var torrentPath = dir.File("sda1.torrent");
        var (t, image) = await InteropData.BlockImageAsync(dir, torrentPath, seed: 1515, name: "sda1", "--tracker", $"http://127.0.0.1:{trackerPort}/announce");
        string hash = t.InfoHash.ToHex();
        var slices = dir.File("slices");
        InteropData.WritePlainFiles(t, image, slices);
        var target = dir.File("sda1.target");
        using (var f = File.Create(target)) f.SetLength(new FileInfo(image).Length);

        // libtorrent -> daemon: libtorrent is the only seed.
        using var ltSeed = RunningProcess.Start(LtScript.Spec("lt-seed", "seed", torrentPath, slices, "--listen", "127.0.0.171:6881", "--skip-check",
            "--plain-handshake", "--announce-ip", "127.0.0.171"));
        await ltSeed.WaitForOutputAsync("] seeding", TimeSpan.FromSeconds(60), Ct);
        int grpcPort = FreePort.Tcp();
        string addr = $"127.0.0.1:{grpcPort}";
        using var daemon = RunningProcess.Start(ezio, "-l", addr, "--bind-ip", "127.0.0.172", "-p", "6881", "--resume-dir", dir.Path);
        await daemon.WaitForListenerAsync("127.0.0.1", grpcPort, TimeSpan.FromSeconds(30), Ct);
        py.Run(addr, "add", torrentPath, target, "--max-uploads", "5", "--max-connections", "6");
        var fetched = py.Run(false, addr, "wait", "120", hash);
        Assert.True(fetched.ExitCode == 0, $"{fetched.StdErr}\n{daemon.Tail()}\n{ltSeed.Tail()}");
        var s = EzioClientScript.Parse(fetched.StdOut)[hash];
        Assert.Equal((5L, t.TotalLength), (s["state"].GetInt64(), s["total_done"].GetInt64()));
        Assert.True(s["total_payload_download"].GetInt64() >= t.TotalLength);
        ltSeed.Terminate();

        // daemon -> libtorrent: the daemon, now seeding, is the only peer a fresh libtorrent client can find.
        var ltTarget = dir.File("lt-target");
        var ltFetch = Tool.Run(LtScript.Spec("lt-fetch", "fetch", torrentPath, ltTarget, "--listen", "127.0.0.173:6881", "--fsync", "--timeout", "120",
            "--plain-handshake", "--announce-ip", "127.0.0.173"), check: false, timeout: TimeSpan.FromMinutes(3));
        Assert.True(ltFetch.ExitCode == 0, $"lt.py fetch exited {ltFetch.ExitCode}: {ltFetch.StdOut}{ltFetch.StdErr}\n{daemon.Tail()}");
        Assert.True(py.Status(addr, hash)["total_payload_upload"].GetInt64() >= t.TotalLength);

        py.Run(addr, "shutdown");
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        InteropData.AssertFilesMatchImage(t, image, ltTarget);
        Assert.Null(BlockSwarm.Metainfo.BlockImageLayout.Create(t).FirstDifference(image, target));
    }
}
