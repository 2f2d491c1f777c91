using System.Net;
using System.Net.Sockets;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Tests.Session;
using BlockSwarm.Engine.Tests.Storage;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Tests.Hosting;

/// <summary>
/// The failures an operator meets on a real LAN each leave one readable log line naming the peer, the torrent, the
/// offset where there is one, and the reason: a hostile peer, a peer sending corrupt data, a failing disk.
/// </summary>
public sealed class EngineLogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_peer_closed_for_a_protocol_violation_leaves_a_warning_naming_it_the_torrent_and_the_request()
    {
        using var dir = new TempDirectory("log-violation");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 51);
        await using var storage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        var logs = new RecordingLoggerFactory();
        await using var engine = TestEngines.Start(IPAddress.Loopback, seed: 1, logs: logs);
        engine.Add(t, storage, storage.GetDurablePieces());

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(engine.LocalEndPoint!, Ct);
        var local = (IPEndPoint)socket.LocalEndPoint!;
        await using var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: false));
        await conn.ConnectHandshakeAsync(Handshake.Create(t.InfoHash.Span, PeerId.Create(new Random(5))), Ct);
        conn.Send(OutgoingMessage.Interested);
        conn.Send(OutgoingMessage.Request(t.PieceCount + 7, 0, SwarmOptions.BlockSize));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(10));
        var result = await conn.RunAsync(new Ignore(), new MessageLimits(t.PieceCount), stop.Token);
        Assert.Equal(PeerCloseReason.RemoteClose, result.Reason);

        var line = await OneAsync(logs, "ProtocolViolation");
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains(local.ToString(), line.Message, StringComparison.Ordinal);
        Assert.Contains(t.Name, line.Message, StringComparison.Ordinal);
        Assert.Contains($"piece index {t.PieceCount + 7} out of range (torrent has {t.PieceCount} pieces)", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_alone_sends_corrupt_pieces_is_banned_with_a_warning_and_each_bad_piece_is_logged_with_its_offset()
    {
        using var dir = new TempDirectory("log-ban");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 52);
        await using var source = DeviceStorage.Open(img, t, writable: false);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var logs = new RecordingLoggerFactory();
        await using var target = DeviceStorage.CreateImage(dir.File("t.img"), t, size: new FileInfo(img).Length);
        await using var engine = TestEngines.Start(null, seed: 2, logs: logs);
        var session = engine.Add(t, target, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [(IPEndPoint)listener.LocalEndpoint] });

        using var socket = await listener.AcceptSocketAsync(Ct);
        var liar = (IPEndPoint)socket.LocalEndPoint!;
        await using var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: false));
        await conn.AcceptHandshakeAsync(h => Handshake.Create(h.InfoHash, PeerId.Create(new Random(6))), Ct);
        conn.Send(OutgoingMessage.HaveAll);
        conn.Send(OutgoingMessage.Unchoke);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(20));
        var result = await conn.RunAsync(new CorruptSeed(source), new MessageLimits(t.PieceCount, maxBlockLength: 1 << 20), stop.Token);
        Assert.NotEqual(PeerCloseReason.LocalClose, result.Reason); // the engine hung up on us

        var ban = await OneAsync(logs, "PeerBanned");
        Assert.Equal(LogLevel.Warning, ban.Level);
        Assert.Contains(liar.ToString(), ban.Message, StringComparison.Ordinal);
        Assert.Contains(t.Name, ban.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-1", ban.Message, StringComparison.Ordinal);
        var failed = logs.Named("HashFailed");
        Assert.True(failed.Count >= 2, $"{failed.Count} hash failures logged");
        Assert.All(failed, f => Assert.Matches(@"piece \d+ \(bytes \d+\.\.\d+ of the torrent\)", f.Message));
        Assert.Equal(1, session.GetStats().BannedPeers);
    }

    [Fact]
    public async Task A_storage_error_stops_the_torrent_with_one_error_line_naming_the_device_and_offset()
    {
        using var dir = new TempDirectory("log-storage");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 53);
        await using var source = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        var path = dir.File("t.img");
        var device = new FakeDevice(new DeviceFileBlockDevice(DeviceFile.CreateImage(path, new FileInfo(img).Length))) { FailAtWrite = 2, FailMessage = "Input/output error" };
        await using var target = new DeviceStorage(device, BlockImageLayout.Create(t, device.Size));
        var logs = new RecordingLoggerFactory();
        await using var seeder = TestEngines.Start(IPAddress.Parse("127.0.0.71"), seed: 3);
        seeder.Add(t, source, source.GetDurablePieces());
        await using var engine = TestEngines.Start(IPAddress.Parse("127.0.0.72"), seed: 4, logs: logs);
        var session = engine.Add(t, target, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] });

        var error = await Assert.ThrowsAsync<StorageException>(() => session.Completion.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        var line = await OneAsync(logs, "TorrentFailed");
        Assert.Equal(LogLevel.Error, line.Level);
        Assert.Contains(t.Name, line.Message, StringComparison.Ordinal);
        Assert.Contains(path, line.Message, StringComparison.Ordinal);
        Assert.Matches(@"writing \d+ bytes at offset \d+ failed", line.Message);
        Assert.Contains("Input/output error", line.Message, StringComparison.Ordinal);
        Assert.Contains(error.Message, line.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Regression (a CI hang, found with dotnet-dump's dumpasync): the one hashing worker stopped at the first failed
    /// write, the verify queue filled up, a peer's receive loop waited for room in it for ever, and the engine's dispose
    /// waited for that loop. Now the failing worker closes the queue and lets waiting peers go.
    /// </summary>
    [Fact]
    public async Task After_a_storage_error_the_engine_stops_even_with_peers_waiting_to_queue_pieces()
    {
        using var dir = new TempDirectory("log-storage-stop");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 54, pieceLength: 64 << 10);
        await using var source = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        var path = dir.File("t.img");
        var device = new FakeDevice(new DeviceFileBlockDevice(DeviceFile.CreateImage(path, new FileInfo(img).Length))) { FailAtWrite = 1, FailMessage = "Input/output error" };
        await using var target = new DeviceStorage(device, BlockImageLayout.Create(t, device.Size));
        await using var seeder = TestEngines.Start(IPAddress.Parse("127.0.0.73"), seed: 5);
        seeder.Add(t, source, source.GetDurablePieces());
        var engine = TestEngines.Start(IPAddress.Parse("127.0.0.74"), seed: 6);
        var session = engine.Add(t, target, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!], HashWorkers = 1 });
        await Assert.ThrowsAsync<StorageException>(() => session.Completion.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        await engine.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }

    /// <summary>Waits (briefly: logging follows the event on another thread) for exactly one line of event <paramref name="name"/>.</summary>
    private static async Task<RecordedLog> OneAsync(RecordingLoggerFactory logs, string name)
    {
        await Eventually.UntilAsync(() => logs.Named(name).Count > 0, TimeSpan.FromSeconds(5), $"a {name} log line",
            () => string.Join("\n", logs.Entries), ct: Ct);
        return Assert.Single(logs.Named(name));
    }

    private sealed class Ignore : IPeerMessageHandler
    {
        public ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken) => default;
    }

    /// <summary>Answers every request with the right length and the wrong bytes.</summary>
    private sealed class CorruptSeed(IPieceStorage source) : IPeerMessageHandler
    {
        public async ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
        {
            if (message.Kind != MessageKind.Request) return;
            var data = new byte[message.Length];
            await source.ReadAsync(message.PieceIndex, message.Begin, data, cancellationToken);
            data[0] ^= 0xff;
            connection.Send(OutgoingMessage.Piece(message.PieceIndex, message.Begin, data));
        }
    }
}
