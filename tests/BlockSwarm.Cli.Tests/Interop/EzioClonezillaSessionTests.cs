using System.Globalization;
using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// Issue 15's Clonezilla session, run the way Clonezilla runs a BitTorrent restore with EZIO ≥ 2.0.16 (ocs-btsrv,
/// ocs-ezio-seeder, ocs-ezio-leecher, drbl-ocs.conf; see <see cref="ClonezillaBtZone"/> for the image side):
/// <list type="bullet">
/// <item>the server's partitions saved by partclone and zstd, sliced by <c>partclone -r -T</c> into
/// <c>btzone/IMG/sdaN/</c>, one torrent per partition from its torrent.info (16 MiB pieces, the same info-hash as EZIO's
/// converter), one opentracker per partition with that info-hash whitelisted;</item>
/// <item>the server: <c>ezio -F --slow-start</c> (the native binary through a link named ezio), each torrent added in
/// seeding mode with save path <c>btzone/IMG</c>, max_uploads 5, max_connections 6;</item>
/// <item>four clients: <c>ezio</c> (raw-disk mode) each on its own 127.0.0.x, each partition's torrent added with its
/// target partition as save path (5/6), then EZIO's ezio_cli.py loop (the Python client's <c>session</c>): poll, pause
/// what is finished and idle, Shutdown when all is.</item>
/// </list>
/// Every target equals what partclone restores from the saved image, the file systems check clean, opentracker counts
/// four completions per torrent, and the clients fed each other.
/// </summary>
public sealed class EzioClonezillaSessionTests(ITestOutputHelper output)
{
    private const string ServerIp = "127.0.0.130";
    private const int Clients = 4;
    private const int ClientCacheMiB = 64;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static string ClientIp(int i) => $"127.0.0.{131 + i}";

    [Fact]
    [Requires("opentracker", "partclone.ext4", "partclone.vfat", "zstd", "mkfs.ext4", "mkfs.vfat", "mcopy", "e2fsck", "fsck.vfat", "time",
        Need.PythonGrpc, Need.PythonLibtorrent)]
    public async Task One_seeding_daemon_and_four_client_daemons_restore_partclone_sliced_partitions_through_opentracker_bit_exact()
    {
        string bin = NativeCliTests.Binary();
        using var dir = new TempDirectory("ezio-cz");
        var py = EzioClientScript.Generate(dir);
        var ezio = EzioClientScript.EzioLink(dir);

        // The source disk: an ext4 system partition and a FAT32 data partition, with files.
        var sda1Tree = ContentTree.Random(dir.File("sda1.content"), 1, Enumerable.Range(0, 12).Select(i => ($"usr/lib/f{i:00}.bin", 6 << 20)).Append(("etc/hostname", 9)));
        var sda1 = FsImage.Ext4(dir.File("sda1.img"), 160L << 20, sda1Tree, ["-b", "4096"]);
        var sda2Tree = ContentTree.Random(dir.File("sda2.content"), 2, Enumerable.Range(0, 6).Select(i => ($"data/d{i}.bin", 4 << 20)));
        var sda2 = FsImage.Fat(dir.File("sda2.img"), 64L << 20, 32, sda2Tree);
        string imageDir = dir.File("partimag/lab-img"), btDir = dir.File("partimag/btzone/lab-img");
        var parts = new[] { ClonezillaBtZone.Prepare("sda1", "ext4", sda1, imageDir, btDir), ClonezillaBtZone.Prepare("sda2", "vfat", sda2, imageDir, btDir) };

        // ocs-btsrv: per partition the metainfo, then its opentracker (6969, 6971, … there; free ports here).
        var trackers = new List<RunningProcess>();
        var urls = new Dictionary<string, string>();
        try
        {
            foreach (var p in parts)
            {
                int port = FreePort.Tcp(IPAddress.Parse(ServerIp));
                urls[p.Name] = $"http://{ServerIp}:{port}/announce";
                string hash = ClonezillaBtZone.MakeTorrent(bin, p, urls[p.Name]);
                var theirs = Tool.Run(Tool.SystemPython, Path.Combine(RepoPaths.Root, "tests", "scripts", "clonezilla_convert.py"), p.TorrentInfo, p.Name, dir.File(p.Name + ".ezio.torrent"));
                Assert.Equal(theirs.StdOut.Split('\n')[0], hash);
                var tracker = RunningProcess.Start(ClonezillaBtZone.OpenTracker(ServerIp, port, btDir, p.Name, [hash]));
                trackers.Add(tracker);
                await tracker.WaitForListenerAsync(ServerIp, port, TimeSpan.FromSeconds(30), Ct);
            }
            var torrents = parts.Select(p => Torrent.Load(p.Torrent)).ToArray();
            Assert.All(torrents, t => Assert.Equal(16 << 20, t.PieceLength));
            await RunSessionAsync(ezio, py, dir, btDir, parts, torrents, trackers);
            // opentracker saw every client complete every torrent.
            using var http = new HttpClient();
            foreach (var (p, t) in parts.Zip(torrents))
            {
                var scrape = await http.GetByteArrayAsync(urls[p.Name].Replace("/announce", "/scrape", StringComparison.Ordinal) + "?info_hash=" + t.InfoHash.ToUrlEncoded(), Ct);
                var text = System.Text.Encoding.Latin1.GetString(scrape);
                Assert.True(text.Contains("10:downloadedi4e", StringComparison.Ordinal), $"{p.Name}: opentracker's scrape {text[text.IndexOf("d8:", StringComparison.Ordinal)..]}");
            }
        }
        finally
        {
            foreach (var t in trackers) t.Dispose();
        }

        // Each target is what partclone restores from the saved image onto a blank partition, and checks clean.
        foreach (var p in parts)
        {
            var expected = FsImage.Blank(dir.File(p.Name + ".expected"), new FileInfo(p.Source).Length);
            Tool.Sh($"set -o pipefail; zstd -q -dc '{p.PartcloneImage}' | {ClonezillaBtZone.PartcloneFor(p.Fs)} -r -s - -O '{expected}' -L '{expected}.log' >/dev/null 2>&1");
            var want = File.ReadAllBytes(expected);
            for (int i = 0; i < Clients; i++)
            {
                var target = Target(dir, i, p.Name);
                Assert.True(want.AsSpan().SequenceEqual(File.ReadAllBytes(target)), $"client {i}: {p.Name} differs from partclone's restore");
            }
            var fsck = p.Fs == "ext4" ? Tool.Run("e2fsck", ["-fn", Target(dir, 0, p.Name)], check: false) : Tool.Run("fsck.vfat", ["-n", Target(dir, 0, p.Name)], check: false);
            Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
        }
    }

    private static string Target(TempDirectory dir, int client, string part) => dir.File($"c{client}-{part}.img");

    private async Task RunSessionAsync(string ezio, EzioClientScript py, TempDirectory dir, string btDir, BtPartition[] parts, Torrent[] torrents,
        List<RunningProcess> trackers)
    {
        // ocs-ezio-seeder: ezio -F --cache-size … --slow-start, then ezio_add_torrent.py -S -c 6 -u 5 sdaN.torrent btzone/IMG.
        int serverGrpc = FreePort.Tcp();
        string serverAddr = $"127.0.0.1:{serverGrpc}";
        using var server = RunningProcess.Start(new ProcessSpec(ezio, "-F", "-l", serverAddr, "--bind-ip", ServerIp, "-p", "6881", "--cache-size", "256",
            "--slow-start", "--resume-dir", dir.Path) { Label = "ezio server" });
        await server.WaitForListenerAsync("127.0.0.1", serverGrpc, TimeSpan.FromSeconds(30), Ct);
        foreach (var p in parts)
            py.Run(serverAddr, "add", p.Torrent, btDir, "--seed", "--max-uploads", "5", "--max-connections", "6");
        py.Run([serverAddr, "wait", "60", .. torrents.Select(t => t.InfoHash.ToHex())]);

        // ocs-ezio-leecher on each client: ezio --cache-size …, ezio_add_torrent.py -c 6 -u 5 sdaN.torrent /dev/sdaN, ezio_cli.py.
        var clients = new List<RunningProcess>();
        try
        {
            var grpc = new List<string>();
            for (int i = 0; i < Clients; i++)
            {
                int port = FreePort.Tcp();
                grpc.Add($"127.0.0.1:{port}");
                clients.Add(RunningProcess.Start(new ProcessSpec(ezio, "-l", grpc[i], "--bind-ip", ClientIp(i), "-p", "6881",
                    "--cache-size", ClientCacheMiB.ToString(CultureInfo.InvariantCulture), "--resume-dir", dir.Path)
                { Label = $"ezio client {i}", MeasureUsage = true }));
                foreach (var p in parts) FsImage.Blank(Target(dir, i, p.Name), new FileInfo(p.Source).Length);
            }
            for (int i = 0; i < Clients; i++) await clients[i].WaitForListenerAsync("127.0.0.1", int.Parse(grpc[i].Split(':')[1], CultureInfo.InvariantCulture), TimeSpan.FromSeconds(30), Ct);
            string Logs() => string.Join("\n", clients.Select(c => $"{c.Label}:\n{c.Tail(15)}")) + $"\nserver:\n{server.Tail(20)}\n" + string.Join("\n", trackers.Select(t => t.Tail(5)));

            var sw = System.Diagnostics.Stopwatch.StartNew();
            var sessions = Enumerable.Range(0, Clients).Select(i => Task.Run(() =>
            {
                foreach (var p in parts)
                    py.Run(grpc[i], "add", p.Torrent, Target(dir, i, p.Name), "--max-uploads", "5", "--max-connections", "6");
                // ezio_cli.py -w 90 in Clonezilla; a few seconds here.
                return py.Run(false, grpc[i], "session", "240", "--wait", "3", "--idle", "2");
            })).ToList();
            var results = await Task.WhenAll(sessions);
            for (int i = 0; i < Clients; i++)
                Assert.True(results[i].ExitCode == 0, $"client {i} session exited {results[i].ExitCode}: {results[i].StdErr}\n{Logs()}");
            long peerUpload = 0;
            for (int i = 0; i < Clients; i++)
            {
                var doc = System.Text.Json.JsonDocument.Parse(results[i].StdOut).RootElement;
                foreach (var t in torrents)
                {
                    var s = doc.GetProperty("torrents").GetProperty(t.InfoHash.ToHex());
                    Assert.Equal((t.TotalLength, t.PieceCount), (s.GetProperty("total_done").GetInt64(), (int)s.GetProperty("num_pieces").GetInt64()));
                    Assert.True(s.GetProperty("is_finished").GetBoolean() && s.GetProperty("is_paused").GetBoolean());
                    peerUpload += s.GetProperty("total_payload_upload").GetInt64();
                }
                // Shutdown answered once every target was flushed and fsynced; the daemon then exits 0.
                Assert.Equal(0, await clients[i].WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
                output.WriteLine($"client {i}: all finished after {doc.GetProperty("finished_s").GetDouble():0.0} s, shut down after {doc.GetProperty("shutdown_s").GetDouble():0.0} s, peak RSS {clients[i].Usage().PeakRssBytes >> 20} MiB");
                // Issue 15's goal: the cache plus 64 MiB. In this swarm (12 connections, 16 MiB pieces) clients peaked at
                // 100-146 MiB while a one-piece read cache refilled a whole piece per upload; with it off, 79-89 MiB.
                Assert.True(clients[i].Usage().PeakRssBytes <= (ClientCacheMiB + 64L) << 20, $"client {i}: peak RSS {clients[i].Usage().PeakRssBytes >> 20} MiB with --cache-size {ClientCacheMiB}");
            }
            output.WriteLine($"{Clients} clients, {torrents.Sum(t => t.TotalLength) >> 20} MiB each in {torrents.Length} torrents: session {sw.Elapsed.TotalSeconds:0.0} s; clients uploaded {peerUpload >> 20} MiB to each other");
            // A swarm, not four downloads from the server.
            Assert.True(peerUpload > 0, Logs());
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
        py.Run(serverAddr, "shutdown");
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
    }
}
