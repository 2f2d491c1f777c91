using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Wire;

public sealed class PeerConnectionTests
{
    private const int Pieces = 8;
    private const int PieceLength = 4 * 16384;
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);
    private static readonly byte[] InfoHash = Enumerable.Range(100, 20).Select(i => (byte)i).ToArray();
    private static readonly MessageLimits Limits = new(Pieces);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] BlockData(int piece, int begin, int length)
        => Enumerable.Range(0, length).Select(i => (byte)(piece * 31 + begin / 16384 * 7 + i)).ToArray();

    private static async Task<(NetworkStream Client, NetworkStream Server, IDisposable Cleanup)> TcpPairAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        var accept = listener.AcceptTcpClientAsync(Ct);
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, Ct);
        var server = await accept;
        client.NoDelay = server.NoDelay = true;
        return (client.GetStream(), server.GetStream(), new Both(client, server));
    }

    private sealed class Both(TcpClient a, TcpClient b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    [Fact]
    public async Task Loopback_tcp_handshake_bitfield_request_piece()
    {
        var (clientStream, serverStream, cleanup) = await TcpPairAsync();
        using var _ = cleanup;
        await using var seeder = PeerConnection.Create(serverStream);
        await using var leecher = PeerConnection.Create(clientStream);

        var seederId = PeerId.Create(new Random(1));
        var leecherId = PeerId.Create(new Random(2));
        var accept = seeder.AcceptHandshakeAsync(
            theirs => theirs.InfoHash.SequenceEqual(InfoHash) ? Handshake.Create(InfoHash, seederId) : null, Ct);
        var remote = await leecher.ConnectHandshakeAsync(Handshake.Create(InfoHash, leecherId), Ct);
        await accept;
        Assert.Equal(seederId, remote.PeerIdBytes.ToArray());
        Assert.Equal(leecherId, seeder.RemoteHandshake!.PeerIdBytes.ToArray());
        Assert.True(remote.SupportsFastExtension && remote.SupportsExtensionProtocol);

        // Seeder: has everything, answers each request with the block (its lease returned after the copy).
        var leases = new List<CountingOwner>();
        var seederHandler = new RecordingHandler((conn, m) =>
        {
            if (m.Kind == MessageKind.Interested) conn.Send(OutgoingMessage.Unchoke);
            if (m.Kind == MessageKind.Request)
            {
                var lease = new CountingOwner();
                lock (leases) leases.Add(lease);
                conn.Send(OutgoingMessage.Piece(m.PieceIndex, m.Begin, BlockData(m.PieceIndex, m.Begin, m.Length), lease));
            }
            return ValueTask.CompletedTask;
        });
        var all = new Bitfield(Pieces);
        all.SetAll();
        seeder.Send(OutgoingMessage.Bitfield(all));

        // Leecher: interested on bitfield, requests everything on unchoke, copies each block once into its piece buffers.
        var pieceBuffers = Enumerable.Range(0, Pieces).Select(_ => new byte[PieceLength]).ToArray();
        int blocksExpected = Pieces * PieceLength / 16384, blocksReceived = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leecherHandler = new LeecherHandler(pieceBuffers, () =>
        {
            if (Interlocked.Increment(ref blocksReceived) == blocksExpected) done.SetResult();
        });

        var seederRun = seeder.RunAsync(seederHandler, Limits, Ct);
        var leecherRun = leecher.RunAsync(leecherHandler, Limits, Ct);
        await done.Task.WaitAsync(TestTimeout, Ct);
        leecher.Close(); // ends its loops and hangs up: the seeder sees a clean remote close

        Assert.Equal(PeerCloseReason.LocalClose, (await leecherRun.WaitAsync(TestTimeout, Ct)).Reason);
        Assert.Equal(PeerCloseReason.RemoteClose, (await seederRun.WaitAsync(TestTimeout, Ct)).Reason);
        for (int p = 0; p < Pieces; p++)
            for (int b = 0; b < PieceLength; b += 16384)
                Assert.Equal(BlockData(p, b, 16384), pieceBuffers[p].AsSpan(b, 16384).ToArray());

        long payload = (long)Pieces * PieceLength;
        Assert.Equal(payload, leecher.PayloadBytesReceived);
        Assert.Equal(payload, seeder.PayloadBytesSent);
        Assert.Equal(seeder.WireBytesSent, leecher.WireBytesReceived);
        Assert.Equal(leecher.WireBytesSent, seeder.WireBytesReceived);
        // Handshake (68) + bitfield (5 + 1) + unchoke (5) + one 13-byte header per block.
        Assert.Equal(68 + 6 + 5 + 13L * blocksExpected + payload, seeder.WireBytesSent);
        Assert.Equal(0, leecher.PayloadBytesSent);
        Assert.Equal(0, seeder.QueuedSendBytes);
        Assert.All(leases, l => Assert.Equal(1, l.DisposeCount));
        Assert.Equal(blocksExpected, leases.Count);
    }

    private sealed class LeecherHandler(byte[][] pieceBuffers, Action blockDone) : IPeerMessageHandler
    {
        public ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
        {
            switch (message.Kind)
            {
                case MessageKind.Bitfield:
                    connection.Send(OutgoingMessage.Interested);
                    break;
                case MessageKind.Unchoke:
                    for (int p = 0; p < pieceBuffers.Length; p++)
                        for (int b = 0; b < PieceLength; b += 16384)
                            connection.Send(OutgoingMessage.Request(p, b, 16384));
                    break;
                case MessageKind.Piece:
                    message.Payload.CopyTo(pieceBuffers[message.PieceIndex].AsSpan(message.Begin, message.Length));
                    blockDone();
                    break;
            }
            return ValueTask.CompletedTask;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Slow_stream_delivering_1_to_3_bytes_per_read_yields_every_message(int seed)
    {
        var theirs = Handshake.Create(InfoHash, PeerId.Create(new Random(seed)));
        var messages = WireTestData.AllKinds();
        var limits = WireTestData.Limits;
        var input = WireTestData.Encode([.. messages]);
        var stream = new SlowStream([.. theirs.ToBytes(), .. input], seed);
        var connection = PeerConnection.Create(stream);
        var ours = Handshake.Create(InfoHash, PeerId.Create(new Random(99)));

        await connection.AcceptHandshakeAsync(_ => ours, Ct);
        var handler = new RecordingHandler();
        var result = await connection.RunAsync(handler, limits, Ct).WaitAsync(TestTimeout, Ct);
        await connection.DisposeAsync();

        Assert.Equal(PeerCloseReason.RemoteClose, result.Reason);
        var expected = messages.Where(m => m.Kind is not MessageKind.KeepAlive and not MessageKind.Port).ToList();
        Assert.Equal(expected.Count, handler.Messages.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], handler.Messages[i]);
            Assert.Equal(e.Kind, a.Kind);
            Assert.Equal(e.Payload.ToArray(), a.Payload);
            Assert.Equal(e.PieceIndex, a.PieceIndex);
        }
        Assert.Equal(68 + input.Length, connection.WireBytesReceived);
        Assert.Equal(16384, connection.PayloadBytesReceived);
        Assert.Equal(ours.ToBytes(), stream.Written.ToArray());
    }

    [Fact]
    public async Task Frame_cut_off_by_the_remote_close_is_a_violation()
    {
        var bytes = WireTestData.Encode(OutgoingMessage.Have(1), OutgoingMessage.Request(1, 0, 100));
        var stream = new SlowStream([.. Handshake.Create(InfoHash, new byte[20]).ToBytes(), .. bytes[..^3]], 7);
        await using var connection = PeerConnection.Create(stream);
        await connection.AcceptHandshakeAsync(h => Handshake.Create(h.InfoHash, new byte[20]), Ct);
        var handler = new RecordingHandler();
        var result = await connection.RunAsync(handler, Limits, Ct).WaitAsync(TestTimeout, Ct);
        Assert.Equal(PeerCloseReason.ProtocolViolation, result.Reason);
        Assert.Single(handler.Messages);
    }

    [Fact]
    public async Task Violation_closes_only_that_connection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serverId = PeerId.Create(new Random(5));

        async Task<(PeerConnection Connection, Task<PeerConnectionResult> Run, RecordingHandler Handler, TcpClient Socket)> AcceptOneAsync()
        {
            var socket = await listener.AcceptTcpClientAsync(Ct);
            var connection = PeerConnection.Create(socket.GetStream());
            await connection.AcceptHandshakeAsync(h => Handshake.Create(h.InfoHash, serverId), Ct);
            var handler = new RecordingHandler();
            return (connection, connection.RunAsync(handler, Limits, Ct), handler, socket);
        }

        // Peer A: a raw socket that handshakes properly, then sends a 2 GiB length prefix.
        using var rogue = new TcpClient();
        await rogue.ConnectAsync(IPAddress.Loopback, port, Ct);
        var a = await RunWithAcceptAsync(AcceptOneAsync, async () =>
        {
            var s = rogue.GetStream();
            await s.WriteAsync(Handshake.Create(InfoHash, PeerId.Create(new Random(6))).ToBytes(), Ct);
            var reply = new byte[68];
            await s.ReadExactlyAsync(reply, Ct);
        });
        // Peer B: a well-behaved PeerConnection.
        using var goodSocket = new TcpClient();
        await goodSocket.ConnectAsync(IPAddress.Loopback, port, Ct);
        await using var good = PeerConnection.Create(goodSocket.GetStream());
        var b = await RunWithAcceptAsync(AcceptOneAsync, async () =>
            await good.ConnectHandshakeAsync(Handshake.Create(InfoHash, PeerId.Create(new Random(7))), Ct));
        var goodHandler = new RecordingHandler();
        var goodRun = good.RunAsync(goodHandler, Limits, Ct);

        await rogue.GetStream().WriteAsync(new byte[] { 0x7F, 0xFF, 0xFF, 0xFF, 5 }, Ct);
        var aResult = await a.Run.WaitAsync(TestTimeout, Ct);
        Assert.Equal(PeerCloseReason.ProtocolViolation, aResult.Reason);
        Assert.IsType<PeerProtocolException>(aResult.Error);
        await a.Connection.DisposeAsync();
        Assert.Equal(0, await rogue.GetStream().ReadAsync(new byte[1], Ct)); // the rogue was hung up on

        // B is untouched: messages still flow both ways.
        good.Send(OutgoingMessage.Have(3));
        b.Connection.Send(OutgoingMessage.Have(4));
        await WaitUntilAsync(() => b.Handler.Messages.Count == 1 && goodHandler.Messages.Count == 1);
        Assert.False(b.Run.IsCompleted);
        Assert.Equal(3, b.Handler.Messages[0].PieceIndex);
        Assert.Equal(4, goodHandler.Messages[0].PieceIndex);

        good.Close();
        Assert.Equal(PeerCloseReason.LocalClose, (await goodRun.WaitAsync(TestTimeout, Ct)).Reason);
        Assert.Equal(PeerCloseReason.RemoteClose, (await b.Run.WaitAsync(TestTimeout, Ct)).Reason);
        await b.Connection.DisposeAsync();
        a.Socket.Dispose();
        b.Socket.Dispose();
    }

    [Fact]
    public async Task Upload_back_pressure_waits_while_a_peer_that_does_not_read_holds_the_queue_and_resumes_as_it_drains()
    {
        var (clientStream, serverStream, cleanup) = await TcpPairAsync();
        using var _ = cleanup;
        await using var seeder = PeerConnection.Create(serverStream);
        await using var leecher = PeerConnection.Create(clientStream);
        var accept = seeder.AcceptHandshakeAsync(h => Handshake.Create(h.InfoHash, PeerId.Create(new Random(11))), Ct);
        await leecher.ConnectHandshakeAsync(Handshake.Create(InfoHash, PeerId.Create(new Random(12))), Ct);
        await accept;
        var run = seeder.RunAsync(new RecordingHandler(), Limits, Ct);

        // The leecher reads nothing: once the sockets' buffers are full, PIECE messages stay in the seeder's queue.
        const long HighWater = 1 << 20;
        var block = new byte[16384];
        long queuedTotal = 0;
        // Loopback sockets buffer megabytes: queue until what stays queued, once the send loop has filled them, is well
        // above the high water.
        while (true)
        {
            while (seeder.QueuedSendBytes <= 8 * HighWater)
            {
                Assert.True(seeder.Send(OutgoingMessage.Piece(0, 0, block)));
                queuedTotal += 13 + block.Length;
                Assert.True(queuedTotal < 1L << 30, "the queue never grew: the socket swallowed 1 GiB");
            }
            await Task.Delay(100, Ct);
            if (seeder.QueuedSendBytes > 4 * HighWater) break;
        }
        var wait = seeder.WaitForSendSpaceAsync(HighWater, Ct).AsTask();
        await Task.Delay(200, Ct);
        if (run.IsCompleted) Assert.Fail($"the connection ended: {(await run).Reason} {(await run).Error}");
        Assert.False(wait.IsCompleted, $"returned with {seeder.QueuedSendBytes} bytes queued above the {HighWater} high water");

        // The leecher starts reading: the wait ends once the queue is down to half the high water.
        var sink = new byte[1 << 20];
        var drain = Task.Run(async () =>
        {
            while (await clientStream.ReadAsync(sink, Ct) > 0) { }
        }, Ct);
        await wait.WaitAsync(TestTimeout, Ct);
        Assert.True(seeder.QueuedSendBytes <= HighWater, $"{seeder.QueuedSendBytes} bytes still queued");

        // A waiter is released when the connection closes (its next Send returns false), not left hanging.
        while (seeder.QueuedSendBytes <= 64 * HighWater && !run.IsCompleted)
            seeder.Send(OutgoingMessage.Piece(0, 0, block));
        var second = seeder.WaitForSendSpaceAsync(HighWater, Ct).AsTask();
        seeder.Close();
        await second.WaitAsync(TestTimeout, Ct);
        Assert.Equal(PeerCloseReason.LocalClose, (await run.WaitAsync(TestTimeout, Ct)).Reason);
    }

    private static async Task<T> RunWithAcceptAsync<T>(Func<Task<T>> accept, Func<Task> peer)
    {
        var accepted = accept();
        await peer();
        return await accepted.WaitAsync(TestTimeout, Ct);
    }

    private static Task WaitUntilAsync(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string what = "") =>
        Eventually.UntilAsync(condition, TestTimeout, what, poll: TimeSpan.FromMilliseconds(10), ct: Ct);

    [Fact]
    public async Task Handler_protocol_exception_is_a_violation_and_other_exceptions_a_handler_error()
    {
        foreach (var (thrown, reason) in new (Exception, PeerCloseReason)[]
        {
            (new PeerProtocolException("piece not requested"), PeerCloseReason.ProtocolViolation),
            (new InvalidOperationException("engine bug"), PeerCloseReason.HandlerError),
        })
        {
            var (ours, theirs) = DuplexPipe.CreatePair();
            await using var connection = new PeerConnection(ours);
            var handler = new RecordingHandler((_, _) => ValueTask.FromException(thrown));
            var run = connection.RunAsync(handler, Limits, Ct);
            await theirs.Output.WriteAsync(WireTestData.Encode(OutgoingMessage.Unchoke), Ct);
            var result = await run.WaitAsync(TestTimeout, Ct);
            Assert.Equal(reason, result.Reason);
            Assert.Same(thrown, result.Error);
        }
    }

    [Fact]
    public async Task Handshake_with_another_info_hash_or_unknown_torrent_is_refused()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using var connection = new PeerConnection(a);
        await b.Output.WriteAsync(Handshake.Create(new byte[20], new byte[20]).ToBytes(), Ct);
        await Assert.ThrowsAsync<PeerProtocolException>(() => connection.ConnectHandshakeAsync(Handshake.Create(InfoHash, new byte[20]), Ct));

        var (c, d) = DuplexPipe.CreatePair();
        await using var incoming = new PeerConnection(c);
        await d.Output.WriteAsync(Handshake.Create(new byte[20], new byte[20]).ToBytes(), Ct);
        var ex = await Assert.ThrowsAsync<PeerProtocolException>(() => incoming.AcceptHandshakeAsync(_ => null, Ct));
        Assert.Contains("no torrent", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_times_out_on_the_injected_clock()
    {
        var time = new ManualTimeProvider();
        var (a, _) = DuplexPipe.CreatePair();
        await using var connection = new PeerConnection(a, new PeerConnectionOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) }, time);
        var handshake = connection.AcceptHandshakeAsync(h => h, Ct);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(handshake.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<TimeoutException>(() => handshake.WaitAsync(TestTimeout, Ct));
    }

    [Fact]
    public async Task Keep_alive_after_two_idle_minutes_and_timeout_of_a_silent_peer()
    {
        var time = new ManualTimeProvider();
        var (ours, theirs) = DuplexPipe.CreatePair();
        await using var connection = new PeerConnection(ours, PeerConnectionOptions.Default, time);
        var run = connection.RunAsync(new RecordingHandler(), Limits, Ct);

        time.Advance(TimeSpan.FromSeconds(115));
        Assert.Equal(0, connection.WireBytesSent);
        time.Advance(TimeSpan.FromSeconds(10)); // 2:05 idle → one keep-alive
        var read = await theirs.Input.ReadAsync(Ct).AsTask().WaitAsync(TestTimeout, Ct);
        Assert.Equal(new byte[4], read.Buffer.ToArray());
        theirs.Input.AdvanceTo(read.Buffer.End);

        // The peer's keep-alive at 2:30 keeps it alive past 3:00 ...
        time.Advance(TimeSpan.FromSeconds(25));
        await theirs.Output.WriteAsync(new byte[4], Ct);
        await WaitUntilAsync(() => connection.WireBytesReceived == 4);
        time.Advance(TimeSpan.FromSeconds(150)); // 5:00, 2:30 after its keep-alive
        Assert.False(run.IsCompleted);

        // ... but 3 minutes of silence end the connection.
        time.Advance(TimeSpan.FromSeconds(35));
        var result = await run.WaitAsync(TestTimeout, Ct);
        Assert.Equal(PeerCloseReason.Timeout, result.Reason);
    }

    [Fact]
    public async Task Concurrent_producers_are_all_sent_and_payload_owners_released()
    {
        var (ours, theirs) = DuplexPipe.CreatePair();
        await using var connection = new PeerConnection(ours);
        var run = connection.RunAsync(new RecordingHandler(), Limits, Ct);
        var owners = new CountingOwner[4 * 200];
        var block = new byte[1000];
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                var owner = owners[t * 200 + i] = new CountingOwner();
                Assert.True(connection.Send(OutgoingMessage.Piece(t, i, block, owner)));
            }
        }, Ct)));

        var reader = new MessageReader(Limits);
        var perProducer = new int[4];
        int total = 0;
        while (total < owners.Length)
        {
            var result = await theirs.Input.ReadAsync(Ct).AsTask().WaitAsync(TestTimeout, Ct);
            var buffer = result.Buffer;
            while (reader.TryRead(ref buffer, out var m))
            {
                Assert.Equal(perProducer[m.PieceIndex]++, m.Begin); // each producer's order is kept
                total++;
            }
            theirs.Input.AdvanceTo(buffer.Start, buffer.End);
        }
        Assert.All(owners, o => Assert.Equal(1, o.DisposeCount));
        Assert.Equal(owners.Length * 1000L, connection.PayloadBytesSent);
        Assert.Equal(owners.Length * 1013L, connection.WireBytesSent);

        connection.Close();
        Assert.Equal(PeerCloseReason.LocalClose, (await run.WaitAsync(TestTimeout, Ct)).Reason);
        var late = new CountingOwner();
        Assert.False(connection.Send(OutgoingMessage.Piece(0, 0, block, late)));
        Assert.Equal(1, late.DisposeCount);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Gather_and_pipe_send_paths_deliver_the_same_bytes_in_order_and_release_every_owner(bool gather)
    {
        var (clientStream, serverStream, cleanup) = await TcpPairAsync();
        using var _ = cleanup;
        var options = new PeerTransportOptions { GatherSend = gather };
        await using var sender = PeerConnection.Create(serverStream, transportOptions: options);
        await using var receiver = PeerConnection.Create(clientStream);
        var senderHandshake = sender.AcceptHandshakeAsync(h => Handshake.Create(h.InfoHash, PeerId.Create(new Random(1))), Ct);
        await receiver.ConnectHandshakeAsync(Handshake.Create(InfoHash, PeerId.Create(new Random(2))), Ct);
        await senderHandshake;
        var handler = new RecordingHandler();
        var receive = receiver.RunAsync(handler, Limits, Ct);
        var send = sender.RunAsync(new RecordingHandler(), Limits, Ct);

        // Blocks that are referenced (array slices at odd offsets, as cache leases are), small ones that are copied,
        // and control messages in between; enough bytes for several gather batches and a second scratch buffer.
        var owners = new List<CountingOwner>();
        var expected = new List<(MessageKind Kind, int Piece, int Begin, byte[] Payload)>();
        var backing = new byte[PieceLength + 100];
        new Random(3).NextBytes(backing);
        var bits = new Bitfield(Pieces);
        bits.Set(1);
        Assert.True(sender.Send(OutgoingMessage.Bitfield(bits)));
        expected.Add((MessageKind.Bitfield, 0, 0, bits.ToBytes()));
        for (int round = 0; round < 40; round++)
        {
            for (int b = 0; b < 4; b++)
            {
                int length = b == 3 ? 700 : 16384;
                var owner = new CountingOwner();
                owners.Add(owner);
                var block = backing.AsMemory(b * 16384 + round % 7, length);
                Assert.True(sender.Send(OutgoingMessage.Piece(round % Pieces, b * 16384, block, owner)));
                expected.Add((MessageKind.Piece, round % Pieces, b * 16384, block.ToArray()));
            }
            Assert.True(sender.Send(OutgoingMessage.Have(round % Pieces)));
            expected.Add((MessageKind.Have, round % Pieces, 0, []));
        }

        await WaitUntilAsync(() => handler.Messages.Count >= expected.Count);
        var got = handler.Messages;
        Assert.Equal(expected.Count, got.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Kind, got[i].Kind);
            Assert.Equal(expected[i].Piece, got[i].PieceIndex);
            if (expected[i].Kind == MessageKind.Piece) Assert.Equal(expected[i].Begin, got[i].Begin);
            Assert.Equal(expected[i].Payload, got[i].Payload);
        }
        Assert.All(owners, o => Assert.Equal(1, o.DisposeCount));
        Assert.Equal(0, sender.QueuedSendBytes);
        Assert.Equal(40 * (3 * 16384L + 700), sender.PayloadBytesSent);
        Assert.Equal(receiver.WireBytesReceived, sender.WireBytesSent);

        sender.Close();
        Assert.Equal(PeerCloseReason.LocalClose, (await send.WaitAsync(TestTimeout, Ct)).Reason);
        Assert.Equal(PeerCloseReason.RemoteClose, (await receive.WaitAsync(TestTimeout, Ct)).Reason);
    }

    [Fact]
    public async Task Remote_reset_is_a_transport_error_for_that_peer()
    {
        var (clientStream, serverStream, cleanup) = await TcpPairAsync();
        using var _ = cleanup;
        await using var connection = PeerConnection.Create(serverStream);
        var run = connection.RunAsync(new RecordingHandler(), Limits, Ct);
        clientStream.Socket.LingerState = new LingerOption(true, 0); // RST instead of FIN
        clientStream.Socket.Close();
        var result = await run.WaitAsync(TestTimeout, Ct);
        Assert.True(result.Reason is PeerCloseReason.TransportError or PeerCloseReason.RemoteClose, result.ToString());
    }

    [Fact]
    public void Transport_pause_threshold_must_fit_the_largest_frame()
    {
        var connection = PeerConnection.Create(new MemoryStream(), transportOptions: new PeerTransportOptions
        {
            InputPauseThreshold = 64 * 1024,
            InputResumeThreshold = 32 * 1024,
        });
        Assert.Throws<ArgumentException>(() => { _ = connection.RunAsync(new RecordingHandler(), new MessageLimits(10), Ct); });
    }
}
