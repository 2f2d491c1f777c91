using System.Globalization;
using System.Text.Json;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// Issue 15's acceptance: the native binary started through a link named <c>ezio</c>, as Clonezilla starts EZIO, and
/// driven only by a gRPC client that is not ours (Python stubs generated from src/BlockSwarm.Ezio/Protos/ezio.proto by
/// Debian's python3-grpc-tools, tests/scripts/ezio_client.py): a seed daemon and a leech daemon on their own
/// 127.0.0.x, two torrents each (one per partition, as Clonezilla adds them) through a tracker, version, add, status
/// polling until finished, pause/resume, shutdown; both targets bit-exact, and the leech daemon's peak RSS (GNU time)
/// within its --cache-size plus 64 MiB while it fetches four times that much.
/// </summary>
public sealed class EzioPythonAcceptanceTests
{
    private const int CacheMiB = 64;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Partition(string Name, string Image, Torrent Torrent, string TorrentPath, string Target)
    {
        public string Hash => Torrent.InfoHash.ToHex();
    }

    /// <summary>A random partition image of <paramref name="size"/> bytes, all of it used, its torrent announcing to <paramref name="tracker"/>, and a blank target as large.</summary>
    private static Partition MakePartition(TempDirectory dir, string name, int seed, long size, string tracker)
    {
        var img = dir.File($"{name}.img");
        var rnd = new Random(seed);
        var chunk = new byte[4 << 20];
        using (var f = File.Create(img))
            for (long at = 0; at < size; at += chunk.Length)
            {
                rnd.NextBytes(chunk);
                f.Write(chunk, 0, (int)Math.Min(chunk.Length, size - at));
            }
        using var dev = DeviceFile.OpenRead(img);
        var t = TorrentCreator.Create(dev, BlockMap.FromExtents(size, 1, [new Extent(0, size)]),
            new CreateOptions { Name = name, PieceLength = 1 << 20, Trackers = [tracker] });
        var torrentPath = dir.File($"{name}.torrent");
        File.WriteAllBytes(torrentPath, t.Raw.ToArray());
        var target = dir.File($"{name}.target");
        using (var f = File.Create(target)) f.SetLength(size);
        return new Partition(name, img, t, torrentPath, target);
    }

    [Fact]
    [Requires("time")]
    public async Task Python_grpc_client_drives_two_ezio_daemons_to_bit_exact_targets_within_the_cache_budget()
    {
        string bin = NativeCliTests.Binary();
        using var dir = new TempDirectory("ezio-acceptance");
        var py = EzioClientScript.Generate(dir);
        // Started as Clonezilla starts EZIO: a program named ezio.
        var ezio = EzioClientScript.EzioLink(dir);

        int trackerPort = FreePort.Tcp();
        using var tracker = RunningProcess.Start(bin, "tracker", "--listen", $"127.0.0.1:{trackerPort}");
        await tracker.WaitForListenerAsync("127.0.0.1", trackerPort, TimeSpan.FromSeconds(30), Ct);
        string announce = $"http://127.0.0.1:{trackerPort}/announce";
        // 4x the leech's --cache-size in all; 1 MiB pieces.
        var parts = new[] { MakePartition(dir, "sda1", 1, 192L << 20, announce), MakePartition(dir, "sda2", 2, 64L << 20, announce) };

        int seedGrpc = FreePort.Tcp(), leechGrpc = FreePort.Tcp();
        string seedAddr = $"127.0.0.1:{seedGrpc}", leechAddr = $"127.0.0.1:{leechGrpc}";
        // Resume checkpoints into the test's directory, not the machine's temp directory.
        using var seed = RunningProcess.Start(ezio, "-l", seedAddr, "--bind-ip", "127.0.0.111", "-p", "6881", "--resume-dir", dir.Path);
        var leechSpec = new ProcessSpec(ezio, "-l", leechAddr, "--bind-ip", "127.0.0.112", "-p", "6881", "--cache-size", CacheMiB.ToString(CultureInfo.InvariantCulture),
            "--resume-dir", dir.Path)
        {
            MeasureUsage = true,
        };
        using var leech = RunningProcess.Start(leechSpec);
        await seed.WaitForListenerAsync("127.0.0.1", seedGrpc, TimeSpan.FromSeconds(30), Ct);
        await leech.WaitForListenerAsync("127.0.0.1", leechGrpc, TimeSpan.FromSeconds(30), Ct);
        string Logs() => $"seed:\n{seed.Tail(40)}\nleech:\n{leech.Tail(40)}";

        Assert.Equal("v2.0.29-blockswarm", py.Run(seedAddr, "version").StdOut.Trim());
        Assert.StartsWith("ezio v2.0.29-blockswarm", leech.StdOut, StringComparison.Ordinal);

        // The leech gets sda1 first and pauses it before the seed has anything: nothing can have arrived, nothing may.
        py.Run(leechAddr, "add", parts[0].TorrentPath, parts[0].Target, "--max-uploads", "5", "--max-connections", "6");
        py.Run(leechAddr, "pause", parts[0].Hash);
        foreach (var p in parts)
            py.Run(seedAddr, "add", p.TorrentPath, p.Image, "--seed", "--max-uploads", "5", "--max-connections", "6");
        // A second add of the same torrent is refused with ALREADY_EXISTS.
        var dup = py.Run(false, seedAddr, "add", parts[0].TorrentPath, parts[0].Image, "--seed");
        Assert.Equal(3, dup.ExitCode);
        Assert.StartsWith("ALREADY_EXISTS", dup.StdErr, StringComparison.Ordinal);
        py.Run(leechAddr, "add", parts[1].TorrentPath, parts[1].Target, "--max-uploads", "5", "--max-connections", "6");
        // sda2 runs to the end while sda1 stays paused: no peers, no data.
        py.Run(leechAddr, "wait", "120", parts[1].Hash);
        var paused = py.Status(leechAddr, parts[0].Hash);
        Assert.True(paused["is_paused"].GetBoolean(), Logs());
        Assert.Equal((0L, 0L, 3L), (paused["num_peers"].GetInt64(), paused["total_done"].GetInt64(), paused["state"].GetInt64()));
        py.Run(leechAddr, "resume", parts[0].Hash);
        Assert.False(py.Status(leechAddr, parts[0].Hash)["is_paused"].GetBoolean());

        var wait = py.Run(false, [leechAddr, "wait", "180", .. parts.Select(p => p.Hash)]);
        Assert.True(wait.ExitCode == 0, $"wait exited {wait.ExitCode}: {wait.StdErr}\n{Logs()}");
        var done = EzioClientScript.Parse(wait.StdOut);
        foreach (var p in parts)
        {
            var s = done[p.Hash];
            Assert.Equal(5, s["state"].GetInt64()); // seeding
            Assert.Equal(1.0, s["progress"].GetDouble());
            Assert.Equal((p.Torrent.TotalLength, p.Torrent.TotalLength, (long)p.Torrent.PieceCount),
                (s["total_done"].GetInt64(), s["total"].GetInt64(), s["num_pieces"].GetInt64()));
            Assert.Equal((p.Name, p.Target), (s["name"].GetString(), s["save_path"].GetString()));
            Assert.True(s["total_payload_download"].GetInt64() >= p.Torrent.TotalLength);
            Assert.True(py.Status(seedAddr, p.Hash)["total_payload_upload"].GetInt64() >= p.Torrent.TotalLength);
        }

        // Shutdown answers after every target is flushed and fsynced; the daemon then exits 0.
        py.Run(leechAddr, "shutdown");
        Assert.Equal(0, await leech.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        foreach (var p in parts)
            Assert.True(File.ReadAllBytes(p.Image).AsSpan().SequenceEqual(File.ReadAllBytes(p.Target)), $"{p.Name}: the target differs from the image");
        py.Run(seedAddr, "shutdown");
        Assert.Equal(0, await seed.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));

        long peak = leech.Usage().PeakRssBytes;
        TestContext.Current.TestOutputHelper?.WriteLine($"leech daemon: peak RSS {peak >> 20} MiB with --cache-size {CacheMiB} fetching {parts.Sum(p => p.Torrent.TotalLength) >> 20} MiB");
        Assert.True(peak <= (CacheMiB + 64L) << 20, $"leech daemon peak RSS {peak >> 20} MiB with --cache-size {CacheMiB} (allowed: {CacheMiB + 64} MiB)");
    }
}
