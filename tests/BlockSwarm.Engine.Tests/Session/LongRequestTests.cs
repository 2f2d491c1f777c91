using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using WirePeerId = BlockSwarm.Engine.Wire.PeerId;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>
/// Longer requests between BlockSwarm peers (bs_reqlen in the BEP 10 handshake): a run of consecutive 16 KiB blocks
/// moves as one REQUEST and one PIECE message. Checked against a hand-driven peer on the real wire, both ways.
/// </summary>
public sealed class LongRequestTests
{
    private const int Block = SwarmOptions.BlockSize;

    [Fact]
    public void Handshake_carries_the_longest_request_and_ignores_values_off_the_grid()
    {
        var h = new ExtensionHandshake { MaxRequestLength = 256 << 10, RequestQueue = 10 };
        Assert.Equal(256 << 10, ExtensionHandshake.Decode(h.Encode()).MaxRequestLength);
        Assert.Null(ExtensionHandshake.Decode(new ExtensionHandshake().Encode()).MaxRequestLength);
        foreach (var bad in new[] { "i0e", "i1000e", "i16385e", "i2097152e", "3:abc" })
        {
            var raw = System.Text.Encoding.ASCII.GetBytes($"d1:mde9:bs_reqlen{bad}e");
            Assert.Null(ExtensionHandshake.Decode(raw).MaxRequestLength);
        }
    }

    [Fact]
    public async Task Session_refuses_a_maximum_that_is_not_whole_blocks()
    {
        using var dir = new TempDirectory("reqlen");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 5);
        await using var storage = DeviceStorage.Open(img, t, writable: false);
        await using var engine = TestEngines.Start(null, seed: 1);
        Assert.Throws<ArgumentException>(() => engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { MaxRequestLength = 20000 }));
        Assert.Throws<ArgumentException>(() => engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { MaxRequestLength = 2 << 20 }));
        Assert.Empty(engine.Torrents);
    }

    [Theory]
    [InlineData(256 << 10, 128 << 10, 128 << 10)] // both announce: runs up to the smaller maximum
    [InlineData(256 << 10, null, Block)] // a standard peer: 16 KiB requests only
    [InlineData(Block, 256 << 10, Block)] // we turned it off
    public async Task Leecher_requests_runs_only_from_a_peer_that_announced_them_and_completes_bit_exact(int ours, int? theirs, int expectMax)
    {
        using var dir = new TempDirectory("reqlen");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 7);
        var ct = TestContext.Current.CancellationToken;
        await using var source = DeviceStorage.Open(img, t, writable: false);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();

        var target = dir.File("target.img");
        var storage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
        var engine = TestEngines.Start(null, seed: 3);
        var leecher = engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { MaxRequestLength = ours, Peers = [(IPEndPoint)listener.LocalEndpoint] });

        using var socket = await listener.AcceptSocketAsync(ct);
        await using var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: true));
        var local = Handshake.Create(t.InfoHash.Span, WirePeerId.Create(new Random(1)));
        await conn.AcceptHandshakeAsync(_ => local, ct);
        var seed = new ScriptedSeed(t, source, theirs);
        conn.Send(OutgoingMessage.Extended(0, new ExtensionHandshake { MaxRequestLength = theirs }.Encode()));
        conn.Send(OutgoingMessage.HaveAll);
        conn.Send(OutgoingMessage.Unchoke);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = conn.RunAsync(seed, new MessageLimits(t.PieceCount, maxBlockLength: 1 << 20), stop.Token);

        try
        {
            var done = await Task.WhenAny(leecher.Completion, Task.Delay(TimeSpan.FromSeconds(60), ct));
            Assert.True(done == leecher.Completion, $"not complete: {leecher.GetStats().PiecesHave}/{t.PieceCount}");
            await leecher.Completion;
        }
        finally
        {
            await stop.CancelAsync();
            await run;
            await engine.DisposeAsync();
            await storage.DisposeAsync();
        }

        Assert.Equal(expectMax, seed.Longest);
        Assert.True(seed.Requests < (expectMax > Block ? t.TotalLength / Block / 4 : long.MaxValue), $"{seed.Requests} requests for {t.TotalLength} bytes");
        Assert.All(seed.Seen, r => Assert.True(r.Begin % Block == 0 && (r.Length % Block == 0 || r.Begin + r.Length == t.GetPieceLength(r.Piece)), $"off-grid request {r}"));
        LoopbackSwarmTests.AssertExtentsEqual(t, img, target);
    }

    [Fact]
    public async Task Seeder_serves_a_run_to_a_peer_that_announced_it_and_drops_one_asking_beyond_its_maximum()
    {
        using var dir = new TempDirectory("reqlen");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 9);
        var ct = TestContext.Current.CancellationToken;
        await using var storage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var engine = TestEngines.Start(IPAddress.Loopback, seed: 1);
        var seeder = engine.Add(t, storage, storage.GetDurablePieces(), new TorrentOptions { OriginSpreading = false, MaxRequestLength = 128 << 10 });

        // A run of 8 blocks from the middle of piece 3, then the piece's last 3 blocks as one request.
        var (first, got) = await RequestAsync(seeder, t, [new BlockRequest(3, 4 * Block, 128 << 10), new BlockRequest(3, t.PieceLength - 3 * Block, 3 * Block)], ct);
        Assert.Null(first);
        Assert.Equal(2, got.Count);
        foreach (var (r, data) in got)
        {
            var expect = new byte[r.Length];
            await storage.ReadAsync(r.Piece, r.Begin, expect, ct);
            Assert.Equal(expect, data);
        }
        // The 128 KiB run went out with sendfile from the image; the 48 KiB one through the read cache.
        Assert.Equal(128 << 10, seeder.GetStats().PayloadUploadedFromFile);

        // Beyond our 128 KiB: a protocol violation, this peer is closed.
        var (closed, none) = await RequestAsync(seeder, t, [new BlockRequest(3, 0, 256 << 10)], ct);
        Assert.NotNull(closed);
        Assert.Empty(none);
    }

    private static int s_peers;

    /// <summary>Connects as a leecher announcing 1 MiB requests, sends the requests, collects the pieces (or how it ended).</summary>
    private static async Task<(PeerCloseReason? Closed, List<(BlockRequest, byte[])> Pieces)> RequestAsync(
        TorrentSession seeder, Torrent t, BlockRequest[] requests, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(seeder.LocalEndPoint!, ct);
        await using var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: true));
        // A fresh peer id per connection: the seeder may not have seen the previous one close yet, and takes a
        // repeated id for a duplicate connection.
        await conn.ConnectHandshakeAsync(Handshake.Create(t.InfoHash.Span, WirePeerId.Create(new Random(Interlocked.Increment(ref s_peers)))), ct);
        var collector = new PieceCollector(requests.Length);
        conn.Send(OutgoingMessage.Extended(0, new ExtensionHandshake { MaxRequestLength = 1 << 20 }.Encode()));
        conn.Send(OutgoingMessage.Interested);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(20));
        var run = conn.RunAsync(collector, new MessageLimits(t.PieceCount, maxBlockLength: 1 << 20), stop.Token);
        if (await Task.WhenAny(collector.Unchoked.Task, run).WaitAsync(stop.Token) == run) return ((await run).Reason, collector.Pieces);
        foreach (var r in requests) conn.Send(OutgoingMessage.Request(r.Piece, r.Begin, r.Length));
        var ended = await Task.WhenAny(collector.AllArrived.Task, run);
        if (ended == run) return ((await run).Reason, collector.Pieces);
        await stop.CancelAsync();
        await run;
        return (null, collector.Pieces);
    }

    /// <summary>A seed on the wire: HAVE_ALL, serves every request from the source, records what was asked.</summary>
    private sealed class ScriptedSeed(Torrent torrent, IPieceStorage source, int? maxRequest) : IPeerMessageHandler
    {
        public List<BlockRequest> Seen { get; } = [];
        public long Requests => Seen.Count;
        public int Longest => Seen.Count == 0 ? 0 : Seen.Max(r => r.Length);

        public async ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
        {
            if (message.Kind != MessageKind.Request) return;
            var r = new BlockRequest(message.PieceIndex, message.Begin, message.Length);
            Seen.Add(r);
            if (r.Length > (maxRequest ?? Block)) throw new PeerProtocolException($"request {r} is longer than announced");
            var data = new byte[r.Length];
            await source.ReadAsync(r.Piece, r.Begin, data, cancellationToken);
            Assert.True(r.Begin + r.Length <= torrent.GetPieceLength(r.Piece));
            connection.Send(OutgoingMessage.Piece(r.Piece, r.Begin, data));
        }
    }

    private sealed class PieceCollector(int expected) : IPeerMessageHandler
    {
        public List<(BlockRequest, byte[])> Pieces { get; } = [];
        public TaskCompletionSource Unchoked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource AllArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
        {
            if (message.Kind == MessageKind.Unchoke) Unchoked.TrySetResult();
            if (message.Kind == MessageKind.Piece)
            {
                Pieces.Add((new BlockRequest(message.PieceIndex, message.Begin, message.Length), System.Buffers.BuffersExtensions.ToArray(message.Payload)));
                if (Pieces.Count == expected) AllArrived.TrySetResult();
            }
            return default;
        }
    }
}
