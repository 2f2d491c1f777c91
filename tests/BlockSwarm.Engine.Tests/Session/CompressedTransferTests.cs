using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Compression;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using WirePeerId = BlockSwarm.Engine.Wire.PeerId;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>
/// bs_zstd, compressed runs between BlockSwarm peers: compressible data travels compressed and is compressed about once
/// in the swarm (peers forward what they received), incompressible data travels raw at the cost of a sample, either side
/// turning it off gives plain PIECE messages, and a hostile frame closes the peer without a byte of it reaching storage.
/// </summary>
public sealed class CompressedTransferTests(ITestOutputHelper output)
{
    private const int Run = 256 << 10;

    /// <summary>A 24 MiB image, 13 MiB of it used, 256 KiB pieces: text-like (compressible) or random.</summary>
    private static (string Image, Torrent Torrent) MakeImage(TempDirectory dir, bool compressible)
    {
        const long size = 24 << 20;
        var img = dir.File("source.img");
        var data = new byte[size];
        if (compressible) CompressibleData.Fill(data, 5);
        else new Random(5).NextBytes(data);
        File.WriteAllBytes(img, data);
        var map = BlockMap.FromExtents(size, 1, [new Extent(0, 1 << 20), new Extent(3 << 20, (7 << 20) + 12345), new Extent(16 << 20, 5 << 20)]);
        using var dev = DeviceFile.OpenRead(img);
        return (img, TorrentCreator.Create(dev, map, new CreateOptions { Name = "disk", PieceLength = 256 << 10 }));
    }

    /// <summary>Origin and <paramref name="leechers"/> engines on loopback, each its own 127.0.0.x; returns the sessions once complete.</summary>
    private async Task<(SessionStats Origin, SessionStats[] Leechers)> SwarmAsync(TempDirectory dir, string img, Torrent t, int leechers,
        int originLevel = EngineOptions.DefaultCompressionLevel, int leecherLevel = EngineOptions.DefaultCompressionLevel)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, compression: originLevel);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        var engines = new List<TorrentEngine>();
        var storages = new List<IPieceStorage>();
        var sessions = new List<TorrentSession>();
        try
        {
            for (int i = 0; i < leechers; i++)
            {
                var target = dir.File($"target{i}.img");
                var storage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
                storages.Add(storage);
                var engine = TestEngines.Start(IPAddress.Parse($"127.0.0.{2 + i}"), seed: 100 + i, compression: leecherLevel);
                engines.Add(engine);
                sessions.Add(engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] }));
            }
            for (int i = 1; i < leechers; i++)
                for (int j = 0; j < i; j++) sessions[i].AddPeer(sessions[j].LocalEndPoint!);
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct)) == all,
                "not complete in 60 s: " + string.Join("; ", sessions.Select(s => $"{s.GetStats().PiecesHave}/{t.PieceCount}")));
            await all;
            var stats = sessions.Select(s => s.GetStats()).ToArray();
            var o = origin.GetStats();
            output.WriteLine($"origin: payload up {o.PayloadUploaded}, wire up {o.WireUploaded}, {o.Compression}");
            foreach (var s in stats) output.WriteLine($"leecher: payload down {s.PayloadDownloaded}, wire down {s.WireDownloaded}, up {s.PayloadUploaded}, {s.Compression}");
            return (o, stats);
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var s in storages) await s.DisposeAsync();
            for (int i = 0; i < leechers; i++) LoopbackSwarmTests.AssertExtentsEqual(t, img, dir.File($"target{i}.img"));
        }
    }

    [Fact]
    public async Task Compressible_data_travels_compressed_between_every_peer_and_arrives_bit_exact()
    {
        using var dir = new TempDirectory("zstd");
        var (img, t) = MakeImage(dir, compressible: true);
        var (origin, leechers) = await SwarmAsync(dir, img, t, leechers: 3);

        var z = origin.Compression!;
        Assert.True(z.SentPayload > 0 && z.SentWire < z.SentPayload / 2, $"origin sent {z.SentPayload} payload bytes as {z.SentWire} on the wire");
        Assert.True(leechers.Sum(l => l.Compression!.RunsFromCache) > 0, "no leecher forwarded a run it received");
        foreach (var l in leechers)
        {
            // All but runs shorter than WireCompression.MinRunLength: the 12,345-byte tail of an extent, once or (endgame) more.
            Assert.True(l.Compression!.ReceivedPayload >= l.PayloadDownloaded * 0.99, $"{l.Compression.ReceivedPayload} of {l.PayloadDownloaded} compressed");
            Assert.True(l.WireDownloaded < l.PayloadDownloaded * 0.6, $"wire {l.WireDownloaded} for {l.PayloadDownloaded} payload bytes");
            Assert.Equal(0, l.HashFailures);
        }
    }

    [Fact]
    public async Task A_peer_forwards_the_frames_it_received_without_compressing_anything_itself()
    {
        using var dir = new TempDirectory("zstd");
        var (img, t) = MakeImage(dir, compressible: true);
        var ct = TestContext.Current.CancellationToken;
        long size = new FileInfo(img).Length;
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, pex: false);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        // Origin → A; then B, which knows only A (no PEX), fetches everything from A.
        await using var aStorage = DeviceStorage.CreateImage(dir.File("a.img"), t, size: size);
        await using var aEngine = TestEngines.Start(IPAddress.Parse("127.0.0.2"), seed: 2, pex: false);
        var a = aEngine.Add(t, aStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] });
        await a.Completion.WaitAsync(TimeSpan.FromSeconds(60), ct);
        await using var bStorage = DeviceStorage.CreateImage(dir.File("b.img"), t, size: size);
        await using var bEngine = TestEngines.Start(IPAddress.Parse("127.0.0.3"), seed: 3, pex: false);
        var b = bEngine.Add(t, bStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [a.LocalEndPoint!] });
        await b.Completion.WaitAsync(TimeSpan.FromSeconds(60), ct);

        var fromA = a.GetStats().Compression!;
        var intoB = b.GetStats().Compression!;
        output.WriteLine($"origin {origin.GetStats().Compression}\nA {fromA}\nB {intoB}");
        Assert.Equal(0, fromA.RunsCompressed);
        Assert.True(fromA.RunsFromCache > 0);
        Assert.Equal(fromA.SentPayload, intoB.ReceivedPayload);
        Assert.Equal(origin.GetStats().Compression!.SentWire, fromA.SentWire);
        await bEngine.DisposeAsync();
        await bStorage.DisposeAsync();
        LoopbackSwarmTests.AssertExtentsEqual(t, img, dir.File("b.img"));
    }

    [Fact]
    public async Task Random_data_travels_raw_and_is_not_compressed_anywhere()
    {
        using var dir = new TempDirectory("zstd");
        var (img, t) = MakeImage(dir, compressible: false);
        var (origin, leechers) = await SwarmAsync(dir, img, t, leechers: 2);
        foreach (var s in leechers.Append(origin))
        {
            Assert.Equal(0, s.Compression!.SentPayload);
            Assert.Equal(0, s.Compression.ReceivedPayload);
            Assert.Equal(0, s.Compression.RunsCompressed);
        }
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(3, 0)]
    public async Task Compression_off_on_either_side_gives_plain_pieces(int originLevel, int leecherLevel)
    {
        using var dir = new TempDirectory("zstd");
        var (img, t) = MakeImage(dir, compressible: true);
        var (origin, leechers) = await SwarmAsync(dir, img, t, leechers: 1, originLevel, leecherLevel);
        Assert.True(origin.Compression is null or { SentPayload: 0 });
        Assert.True(leechers[0].WireDownloaded > leechers[0].PayloadDownloaded);
    }

    [Fact]
    public void Compressor_keeps_what_it_compressed_and_marks_what_does_not_pay()
    {
        var cache = new CompressedBlockCache(1 << 20);
        var z = new WireCompression(3, pieceCount: 4, pieceLength: 1 << 20, cache);
        var text = new byte[Run];
        CompressibleData.Fill(text, 1);
        var packed = z.TryCompress(new BlockRequest(1, Run, Run), text);
        Assert.NotNull(packed);
        Assert.Same(packed, z.TryGetCached(new BlockRequest(1, Run, Run)));
        Assert.Null(z.TryGetCached(new BlockRequest(1, 0, Run)));
        var decoded = new byte[Run];
        Zstd.DecompressExactly(packed.AsSpan(ZstdBlock.HeaderLength), decoded);
        Assert.Equal(text, decoded);
        Assert.Equal([0, 0, 0, 1, 0, 4, 0, 0, 0, 4, 0, 0], packed.AsSpan(0, ZstdBlock.HeaderLength).ToArray());

        var noise = new byte[Run];
        new Random(2).NextBytes(noise);
        Assert.Null(z.TryCompress(new BlockRequest(2, 0, Run), noise));
        Assert.True(z.IsIncompressible(2, 0));
        Assert.False(z.IsIncompressible(2, Run));
        Assert.Equal(1, z.CompressedRuns);

        // A short cache: the oldest run is evicted for a new one, and a torrent that stops gives its runs back.
        var small = new CompressedBlockCache(packed.Length + 10);
        var z2 = new WireCompression(3, 4, 1 << 20, small);
        Assert.NotNull(z2.TryCompress(new BlockRequest(0, 0, Run), text));
        Assert.NotNull(z2.TryCompress(new BlockRequest(1, 0, Run), text));
        Assert.Equal(1, small.Count);
        Assert.Null(z2.TryGetCached(new BlockRequest(0, 0, Run)));
        z2.Release();
        Assert.Equal(0, small.Bytes);
    }

    [Fact]
    public void Gate_compresses_from_the_start_and_while_the_path_is_behind_but_not_for_a_moments_backlog()
    {
        var time = new BlockSwarm.Engine.Tests.Wire.ManualTimeProvider();
        var gate = new CompressionGate(time);
        bool Step(long backlog)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            return gate.ShouldCompress(backlog, static b => b);
        }
        // A new connection compresses (on a LAN the network is the usual bottleneck)...
        Assert.True(gate.ShouldCompress(0L, static b => b));
        // ...until nothing waits in the socket for about 50 ms (this process is the bottleneck): raw.
        int n = 0;
        while (Step(0)) Assert.True(++n < 6, $"still compressing after {n} samples without a backlog");
        for (int i = 0; i < 20; i++) Assert.False(Step(0));
        // A backlog for two samples (a burst on a fast path): still raw.
        Assert.False(Step(1 << 20));
        Assert.False(Step(1 << 20));
        for (int i = 0; i < 20; i++) Assert.False(Step(0));
        // A backlog that lasts (the path is behind): compressed within 50 ms, and through a 30 ms lull.
        n = 0;
        while (!Step(1 << 20)) Assert.True(++n < 6, $"still raw after {n} samples of backlog");
        for (int i = 0; i < 10; i++) Assert.True(Step(1 << 20));
        for (int i = 0; i < 3; i++) Assert.True(Step(0));
        // Many runs queued at one instant move the score once.
        for (int i = 0; i < 30; i++) Step(0);
        time.Advance(TimeSpan.FromMilliseconds(10));
        for (int i = 0; i < 100; i++) gate.ShouldCompress(1L << 20, static b => b);
        Assert.True(gate.Score < 0.2, $"score {gate.Score}");
    }

    [Fact]
    public async Task Socket_reports_the_bytes_the_kernel_holds_back_for_a_peer_that_does_not_read()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndpoint, ct);
        using var silent = await listener.AcceptSocketAsync(ct);
        await using var conn = PeerConnection.Create(new NetworkStream(client, ownsSocket: false));
        Assert.Equal(0, conn.SendBacklog);
        var block = new byte[16 << 10];
        for (int i = 0; i < 1024; i++) conn.Send(OutgoingMessage.Piece(0, 0, block));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = conn.RunAsync(new IgnoreAll(), new MessageLimits(1), stop.Token);
        await Eventually.UntilAsync(() => conn.SendBacklog >= CompressionGate.MinBacklog, TimeSpan.FromSeconds(10), "a backlog in the socket", ct: ct);
        // The peer hangs up: the blocked send fails and the connection ends.
        silent.Close();
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }

    private sealed class IgnoreAll : IPeerMessageHandler
    {
        public ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken) => default;
    }

    [Theory]
    [InlineData(256L << 20, 16 << 20, 32L << 20)] // the default budget: an eighth, at its 32 MiB cap
    [InlineData(128L << 20, 1 << 20, 16L << 20)] // an eighth
    [InlineData(64L << 20, 16 << 20, 0L)] // 64 MiB with 16 MiB pieces: the write-back needs its piece, nothing left
    public void Memory_budget_gives_the_compressed_runs_an_eighth_and_stays_inside_the_total(long total, int piece, long expect)
    {
        var m = PieceMemory.Split(total, piece);
        Assert.Equal(expect, m.CompressedCacheCapacity);
        Assert.True(m.WriteBackCapacity >= piece);
        Assert.True(m.TotalCapacity <= Math.Max(total, 3L * piece + m.ReadCacheCapacity), $"{m.TotalCapacity} > {total}");
        if (total >= 128L << 20) Assert.Equal(total, m.TotalCapacity);
    }

    public enum Hostile
    {
        /// <summary>A frame that decodes to fewer bytes than the header says.</summary>
        ShortFrame,
        /// <summary>A frame with flipped bytes.</summary>
        CorruptFrame,
        /// <summary>A decoded length beyond the longest request we announced: refused before decoding.</summary>
        OverLongRun,
        /// <summary>A run past the end of its piece.</summary>
        PastPiece,
        /// <summary>A valid frame of the wrong data: the piece fails its hash and nothing of it is kept to forward.</summary>
        WrongData,
    }

    [Theory]
    [InlineData(Hostile.ShortFrame)]
    [InlineData(Hostile.CorruptFrame)]
    [InlineData(Hostile.OverLongRun)]
    [InlineData(Hostile.PastPiece)]
    [InlineData(Hostile.WrongData)]
    public async Task A_hostile_frame_closes_the_peer_and_nothing_of_it_is_written_or_kept(Hostile kind)
    {
        using var dir = new TempDirectory("zstd");
        var (img, t) = MakeImage(dir, compressible: true);
        var ct = TestContext.Current.CancellationToken;
        await using var source = DeviceStorage.Open(img, t, writable: false);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var logs = new RecordingLoggerFactory();
        var target = dir.File("target.img");
        await using var storage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
        await using var engine = TestEngines.Start(null, seed: 3, logs: logs);
        var leecher = engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [(IPEndPoint)listener.LocalEndpoint] });

        using var socket = await listener.AcceptSocketAsync(ct);
        await using var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: true));
        await conn.AcceptHandshakeAsync(_ => Handshake.Create(t.InfoHash.Span, WirePeerId.Create(new Random(1))), ct);
        var seed = new HostileSeed(source, kind);
        conn.Send(OutgoingMessage.Extended(0, new ExtensionHandshake
        {
            MaxRequestLength = 1 << 20,
            Messages = new Dictionary<string, byte> { [ZstdBlock.ExtensionName] = 9 },
        }.Encode()));
        conn.Send(OutgoingMessage.HaveAll);
        conn.Send(OutgoingMessage.Unchoke);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(30));
        var result = await conn.RunAsync(seed, new MessageLimits(t.PieceCount, maxBlockLength: 1 << 20), stop.Token);

        Assert.True(seed.Sent > 0, "the leecher never asked for anything");
        Assert.NotEqual(PeerCloseReason.LocalClose, result.Reason);
        await Eventually.UntilAsync(() => leecher.GetStats().Peers == 0, TimeSpan.FromSeconds(10), "the hostile peer to be dropped", ct: ct);
        var stats = leecher.GetStats();
        Assert.Equal(0, stats.PiecesHave);
        Assert.Equal(0, engine.CompressedRuns!.Count);
        Assert.True(storage.GetDurablePieces().IsEmpty);
        string expect = kind switch
        {
            Hostile.ShortFrame => "decodes to",
            Hostile.CorruptFrame => "does not decode",
            Hostile.OverLongRun => "is outside 1..",
            Hostile.PastPiece => "runs past the piece",
            _ => "failed its SHA-1 check",
        };
        // Flipped bytes may still make a frame of the right length (zstd frames carry no checksum by default): then the
        // piece's SHA-1 catches it. Either way nothing of it is written. The close is logged after the peer left the
        // session's set (what the wait above saw), so the line may come a moment later.
        await Eventually.UntilAsync(() => logs.Entries.Any(e => e.Message.Contains(expect, StringComparison.Ordinal)
            || (kind == Hostile.CorruptFrame && e.Message.Contains("failed its SHA-1 check", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10), $"a log line saying \"{expect}\"", ct: ct);
        if (kind == Hostile.WrongData) Assert.True(stats.HashFailures >= 1);
    }

    /// <summary>Answers the leecher's first request with a hostile bs_zstd message of the given kind.</summary>
    private sealed class HostileSeed(IPieceStorage source, Hostile kind) : IPeerMessageHandler
    {
        public int Sent;

        public async ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
        {
            if (message.Kind != MessageKind.Request) return;
            var r = new BlockRequest(message.PieceIndex, message.Begin, message.Length);
            var data = new byte[r.Length];
            await source.ReadAsync(r.Piece, r.Begin, data, cancellationToken);
            if (kind == Hostile.WrongData)
            {
                // Every run of the piece it asks for, all wrong: the piece completes and fails its hash.
                data.AsSpan().Reverse();
            }
            else if (Interlocked.Increment(ref Sent) > 1)
            {
                return;
            }
            var frame = new byte[Zstd.CompressBound(data.Length)];
            int n = Zstd.Compress(kind == Hostile.ShortFrame ? data.AsSpan(0, data.Length - 1) : data, frame, 3);
            var payload = new byte[ZstdBlock.HeaderLength + n];
            ZstdBlock.WriteHeader(payload, r.Piece, r.Begin, r.Length);
            frame.AsSpan(0, n).CopyTo(payload.AsSpan(ZstdBlock.HeaderLength));
            switch (kind)
            {
                case Hostile.CorruptFrame:
                    for (int i = ZstdBlock.HeaderLength + 8; i < payload.Length; i += 7) payload[i] ^= 0x5a;
                    break;
                case Hostile.OverLongRun:
                    BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(8), (1 << 20) + (16 << 10));
                    break;
                case Hostile.PastPiece:
                    BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), (256 << 10) - (16 << 10));
                    break;
            }
            if (kind == Hostile.WrongData) Interlocked.Increment(ref Sent);
            connection.Send(OutgoingMessage.Extended(ExtensionHandshake.ZstdId, payload)); // the id the leecher announced
        }
    }
}
