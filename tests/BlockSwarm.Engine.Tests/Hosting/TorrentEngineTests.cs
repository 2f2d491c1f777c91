using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Tests.Session;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;

namespace BlockSwarm.Engine.Tests.Hosting;

/// <summary>One engine, many torrents, one port: routing by info-hash, run-time add and remove, shared memory, shutdown.</summary>
public sealed class TorrentEngineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A plain multi-file torrent (standard layout) whose files are written under <paramref name="root"/>.</summary>
    internal static Torrent PlainFiles(string root, int seed)
    {
        var files = new (string[] Path, int Length)[] { (["a.bin"], 700_000), (["sub", "b.bin"], 1_300_001), (["sub", "c.txt"], 12_345) };
        var data = new byte[files.Sum(f => f.Length)];
        new Random(seed).NextBytes(data);
        var b = new TorrentBuilder("release", 64 << 10) { PieceHashes = Hashes(data, 64 << 10) };
        int at = 0;
        foreach (var (path, len) in files)
        {
            b.AddFile(path, len);
            var full = Path.Combine([root, "release", .. path]);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, data.AsSpan(at, len).ToArray());
            at += len;
        }
        return b.Build();
    }

    [Fact]
    public async Task Three_torrents_on_one_port_two_block_images_and_plain_files_are_fetched_bit_exact()
    {
        using var dir = new TempDirectory("engine3");
        using var dirA = new TempDirectory("engine3a");
        using var dirB = new TempDirectory("engine3b");
        var (img1, t1) = LoopbackSwarmTests.MakeImage(dirA, 31);
        var (img2, t2) = LoopbackSwarmTests.MakeImage(dirB, 32, pieceLength: 128 << 10);
        var plainSource = dir.File("plain-src");
        var t3 = PlainFiles(plainSource, 33);

        await using var s1 = LoopbackSwarmTests.OpenTrustedSeed(img1, t1);
        await using var s2 = LoopbackSwarmTests.OpenTrustedSeed(img2, t2);
        await using var s3 = FileStorage.Open(plainSource, t3, writable: false);
        s3.MarkDurable(PieceRecovery.TrustSeed(s3).Pieces);
        await using var seeder = TestEngines.Start(IPAddress.Parse("127.0.0.61"), seed: 1);
        foreach (var (t, st) in new (Torrent, IPieceStorage)[] { (t1, s1), (t2, s2), (t3, s3) }) seeder.Add(t, st, st.GetDurablePieces());
        Assert.Single(seeder.LocalEndPoints);
        var port = seeder.LocalEndPoint!;

        var target1 = dir.File("t1.img");
        var target2 = dir.File("t2.img");
        var target3 = dir.File("plain-dst");
        await using var d1 = DeviceStorage.CreateImage(target1, t1, size: new FileInfo(img1).Length);
        await using var d2 = DeviceStorage.CreateImage(target2, t2, size: new FileInfo(img2).Length);
        await using var d3 = FileStorage.Open(target3, t3);
        await using (var leecher = TestEngines.Start(IPAddress.Parse("127.0.0.62"), seed: 2))
        {
            var sessions = new[] { leecher.Add(t1, d1, new Bitfield(t1.PieceCount), new TorrentOptions { Peers = [port] }),
                leecher.Add(t2, d2, new Bitfield(t2.PieceCount), new TorrentOptions { Peers = [port] }),
                leecher.Add(t3, d3, new Bitfield(t3.PieceCount), new TorrentOptions { Peers = [port] }) };
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), Ct)));
            await all;
            // Every torrent came through the seeder's one port.
            Assert.All(sessions, s => Assert.True(s.GetStats().DownloadedFrom.GetValueOrDefault("127.0.0.61") == s.Torrent.TotalLength));
        }
        LoopbackSwarmTests.AssertExtentsEqual(t1, img1, target1);
        LoopbackSwarmTests.AssertExtentsEqual(t2, img2, target2);
        foreach (var f in t3.Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine([plainSource, "release", .. f.Path])), File.ReadAllBytes(Path.Combine([target3, "release", .. f.Path])));
    }

    [Fact]
    public async Task A_handshake_for_an_unknown_info_hash_is_closed_without_a_byte_sent()
    {
        using var dir = new TempDirectory("engine-unknown");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 35);
        await using var storage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        var logs = new RecordingLoggerFactory();
        await using var engine = TestEngines.Start(IPAddress.Loopback, seed: 3, logs: logs);
        engine.Add(t, storage, storage.GetDurablePieces());

        var stranger = new byte[20];
        new Random(9).NextBytes(stranger);
        var (received, local) = await HandshakeAsync(engine.LocalEndPoint!, stranger);
        Assert.Equal(0, received);
        var line = Assert.Single(logs.Named("UnknownInfoHash"));
        Assert.Contains(Convert.ToHexStringLower(stranger), line.Message, StringComparison.Ordinal);
        Assert.Contains(local.ToString(), line.Message, StringComparison.Ordinal);

        // The torrent it does have is answered: our handshake back, then its state.
        var (answered, _) = await HandshakeAsync(engine.LocalEndPoint!, t.InfoHash.Span.ToArray());
        Assert.True(answered >= Handshake.Length, $"{answered} bytes");
    }

    [Fact]
    public async Task Torrents_are_added_and_removed_at_run_time_and_a_removed_one_is_refused()
    {
        using var dir = new TempDirectory("engine-addremove");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 36);
        await using var storage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var engine = TestEngines.Start(IPAddress.Loopback, seed: 4);
        var session = engine.Add(t, storage, storage.GetDurablePieces());
        var dup = Assert.Throws<InvalidOperationException>(() => engine.Add(t, storage, storage.GetDurablePieces()));
        Assert.Contains(t.InfoHash.ToHex(), dup.Message, StringComparison.Ordinal);
        Assert.Same(session, engine.Find(t.InfoHash));

        await engine.RemoveAsync(session);
        Assert.Empty(engine.Torrents);
        Assert.True(session.Completion.IsCanceled || session.Completion.IsCompletedSuccessfully);
        Assert.Equal(0, (await HandshakeAsync(engine.LocalEndPoint!, t.InfoHash.Span.ToArray())).Received);

        var again = engine.Add(t, storage, storage.GetDurablePieces());
        Assert.Same(again, Assert.Single(engine.Torrents));
        Assert.True((await HandshakeAsync(engine.LocalEndPoint!, t.InfoHash.Span.ToArray())).Received >= Handshake.Length);
    }

    [Fact]
    public async Task Torrents_downloading_at_once_share_one_small_memory_budget_and_give_it_all_back()
    {
        using var dir = new TempDirectory("engine-memory");
        const int pieceLength = 256 << 10;
        // Room for two pieces being assembled and two waiting to be written, for four torrents at once.
        var memory = new PieceMemory(2 * pieceLength, 2 * pieceLength, 0);
        var dirs = Enumerable.Range(0, 4).Select(i => new TempDirectory($"engine-memory{i}")).ToList();
        var seeds = dirs.Select((d, i) => LoopbackSwarmTests.MakeImage(d, 40 + i, pieceLength: pieceLength))
            .Select(m => (T: m.Torrent, m.Image)).ToList();
        var sources = seeds.Select(s => LoopbackSwarmTests.OpenTrustedSeed(s.Image, s.T)).ToList();
        var targets = seeds.Select((s, i) => DeviceStorage.CreateImage(dir.File($"t{i}.img"), s.T, new FileInfo(s.Image).Length, new StorageOptions { Memory = memory })).ToList();
        try
        {
            await using var seeder = TestEngines.Start(IPAddress.Parse("127.0.0.63"), seed: 5);
            for (int i = 0; i < 4; i++) seeder.Add(seeds[i].T, sources[i], sources[i].GetDurablePieces());
            var leecher = new TorrentEngine(new EngineOptions { Memory = memory, Seed = 6, Discovery = new DiscoveryOptions { Trackers = false } });
            await using (leecher)
            {
                leecher.Start();
                var sessions = seeds.Select((s, i) => leecher.Add(s.T, targets[i], new Bitfield(s.T.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] })).ToList();
                long peak = 0;
                var all = Task.WhenAll(sessions.Select(s => s.Completion));
                while (!all.IsCompleted)
                {
                    peak = Math.Max(peak, memory.AssemblingUsed);
                    await Task.WhenAny(all, Task.Delay(5, Ct));
                }
                await all;
                // New pieces wait while the budget is full; only pieces already under way (one per receiving
                // connection at most) can push it over.
                Assert.True(peak <= memory.AssemblingCapacity + 4L * pieceLength, $"peak {peak} for a budget of {memory.AssemblingCapacity}");
            }
            Assert.Equal(0, memory.AssemblingUsed);
            Assert.Equal(0, memory.WriteBackUsed);
            Assert.Equal(0, memory.Buffers.RentedBytes);
            for (int i = 0; i < 4; i++) LoopbackSwarmTests.AssertExtentsEqual(seeds[i].T, seeds[i].Image, dir.File($"t{i}.img"));
        }
        finally
        {
            foreach (var s in sources) await s.DisposeAsync();
            foreach (var s in targets) await s.DisposeAsync();
            foreach (var d in dirs) d.Dispose();
        }
    }

    [Fact]
    public async Task Stopping_the_engine_awaits_every_connection()
    {
        using var dir = new TempDirectory("engine-stop");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 37);
        await using var storage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var target = DeviceStorage.CreateImage(dir.File("t.img"), t, size: new FileInfo(img).Length);
        var seeder = TestEngines.Start(IPAddress.Parse("127.0.0.64"), seed: 7, uploadLimit: 1 << 20);
        var leecher = TestEngines.Start(IPAddress.Parse("127.0.0.65"), seed: 8);
        seeder.Add(t, storage, storage.GetDurablePieces());
        var session = leecher.Add(t, target, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] });
        await Eventually.UntilAsync(() => session.GetStats().PayloadDownloaded > 0, TimeSpan.FromSeconds(20), "the first block", ct: Ct);
        Assert.True(seeder.ConnectionCount >= 1);
        Assert.True(leecher.Memory.AssemblingUsed > 0);
        await seeder.DisposeAsync();
        Assert.Equal(0, seeder.ConnectionCount);
        await leecher.DisposeAsync();
        Assert.Equal(0, leecher.ConnectionCount);
        Assert.True(session.Completion.IsCanceled);
        // A torrent stopped half way gives back the budget of the pieces it had started.
        Assert.Equal(0, leecher.Memory.AssemblingUsed);
    }

    /// <summary>Sends a handshake for <paramref name="infoHash"/> and counts the bytes that come back until the engine closes (or 2 s pass).</summary>
    private static async Task<(int Received, IPEndPoint Local)> HandshakeAsync(IPEndPoint engine, byte[] infoHash)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(engine, Ct);
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var peerId = new byte[20];
        new Random(11).NextBytes(peerId);
        await socket.SendAsync(Handshake.Create(infoHash, peerId).ToBytes(), Ct);
        int total = 0;
        var buffer = new byte[4096];
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        wait.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, wait.Token);
                if (n == 0) break;
                total += n;
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            // Still open after 2 s: the engine answered and keeps the connection.
        }
        return (total, local);
    }
}
