using System.Net;
using System.Net.Sockets;

namespace BlockSwarm.Security.Tests;

public sealed class SecureChannelTests
{
    private static readonly SwarmSecret Secret = SwarmSecret.FromText("the room 101 swarm secret", "test");
    private static readonly SwarmSecret Other = SwarmSecret.FromText("another room's swarm secret", "test");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<(NetworkStream Dialer, NetworkStream Acceptor)> TcpPairAsync() => LoopbackTcp.PairAsync(Ct);

    private static async Task<(SecureChannelStream Initiator, SecureChannelStream Responder)> OpenAsync()
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        var connect = SecureChannel.ConnectAsync(a, Secret, Ct);
        return (await connect, await accept);
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(200_000, 1 << 20)]
    [InlineData(3_000_000, 100)]
    [InlineData(3_000_000, 256 * 1024)]
    public async Task Bytes_arrive_intact_in_both_directions_whatever_the_read_and_write_sizes(int total, int readSize)
    {
        var (initiator, responder) = await OpenAsync();
        await using var _ = initiator;
        await using var __ = responder;
        var random = new Random(total ^ readSize);
        byte[] there = new byte[total], back = new byte[total];
        random.NextBytes(there);
        random.NextBytes(back);

        async Task SendAsync(Stream s, byte[] data)
        {
            var r = new Random(data.Length);
            for (int at = 0; at < data.Length;)
            {
                int n = Math.Min(data.Length - at, r.Next(1, 200_000));
                await s.WriteAsync(data.AsMemory(at, n), Ct);
                if (r.Next(3) == 0) await s.FlushAsync(Ct);
                at += n;
            }
            await s.FlushAsync(Ct);
        }
        async Task<byte[]> ReceiveAsync(Stream s, int length)
        {
            byte[] got = new byte[length];
            byte[] chunk = new byte[readSize];
            for (int at = 0; at < length;)
            {
                Assert.Equal(0, await s.ReadAsync(Memory<byte>.Empty, Ct)); // the receive pump's zero-byte wait must not lose data
                int n = await s.ReadAsync(chunk.AsMemory(0, Math.Min(chunk.Length, length - at)), Ct);
                Assert.NotEqual(0, n);
                chunk.AsSpan(0, n).CopyTo(got.AsSpan(at));
                at += n;
            }
            return got;
        }

        var receivedThere = ReceiveAsync(responder, total);
        var receivedBack = ReceiveAsync(initiator, total);
        await Task.WhenAll(SendAsync(initiator, there), SendAsync(responder, back));
        Assert.Equal(there, await receivedThere);
        Assert.Equal(back, await receivedBack);
        Assert.True(initiator.RecordsSent >= (ulong)(total / SecureChannelStream.MaxRecordPlaintext));
        Assert.Equal(initiator.RecordsSent, responder.RecordsReceived);
    }

    [Fact]
    public async Task Gather_writes_seal_headers_together_and_payloads_in_place_and_arrive_in_order()
    {
        var (initiator, responder) = await OpenAsync();
        await using var _ = initiator;
        await using var __ = responder;
        var random = new Random(3);
        var segments = new List<ArraySegment<byte>>();
        var expected = new MemoryStream();
        for (int i = 0; i < 40; i++)
        {
            // A message header, then (mostly) a block payload of 16–300 KiB, as the send loop gathers them.
            var header = new byte[13 + random.Next(5)];
            random.NextBytes(header);
            segments.Add(header);
            expected.Write(header);
            if (i % 5 == 4) continue;
            var payload = new byte[random.Next(16 << 10, 300 << 10)];
            random.NextBytes(payload);
            segments.Add(new ArraySegment<byte>(payload, 7, payload.Length - 7));
            expected.Write(payload, 7, payload.Length - 7);
        }
        var receive = Task.Run(async () =>
        {
            var got = new byte[expected.Length];
            await responder.ReadExactlyAsync(got, Ct);
            return got;
        }, Ct);
        await initiator.WriteGatherAsync(segments.Take(30).ToList(), Ct);
        await initiator.WriteGatherAsync(segments.Skip(30).ToList(), Ct);
        Assert.Equal(expected.ToArray(), await receive);
        // Headers ride together, payloads in their own records: far fewer records than segments when headers are adjacent.
        Assert.True(initiator.RecordsSent < (ulong)segments.Count + (ulong)(expected.Length / SecureChannelStream.MaxRecordPlaintext),
            $"{initiator.RecordsSent} records for {segments.Count} segments");
    }

    [Fact]
    public async Task File_writes_read_regions_into_the_records_and_arrive_after_their_prefix()
    {
        var (initiator, responder) = await OpenAsync();
        await using var _ = initiator;
        await using var __ = responder;
        string path = Path.GetTempFileName();
        try
        {
            var random = new Random(5);
            byte[] content = new byte[3 << 20];
            random.NextBytes(content);
            await File.WriteAllBytesAsync(path, content, Ct);
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
            var expected = new MemoryStream();
            var sends = new List<(List<ArraySegment<byte>> Prefix, (long, int)[] Regions)>();
            for (int i = 0; i < 12; i++)
            {
                // A header or two (and now and then a leased payload) before a run of one to three file regions.
                var prefix = new List<ArraySegment<byte>>();
                for (int h = 0; h < 1 + i % 2; h++)
                {
                    var header = new byte[13];
                    random.NextBytes(header);
                    prefix.Add(header);
                    expected.Write(header);
                }
                if (i % 4 == 3)
                {
                    var payload = new byte[random.Next(16 << 10, 200 << 10)];
                    random.NextBytes(payload);
                    prefix.Add(payload);
                    expected.Write(payload);
                }
                var regions = new (long, int)[1 + i % 3];
                for (int r = 0; r < regions.Length; r++)
                {
                    int length = random.Next(1, 300 << 10);
                    long offset = random.NextInt64(0, content.Length - length);
                    regions[r] = (offset, length);
                    expected.Write(content, (int)offset, length);
                }
                sends.Add((prefix, regions));
            }
            var receive = Task.Run(async () =>
            {
                var got = new byte[expected.Length];
                await responder.ReadExactlyAsync(got, Ct);
                return got;
            }, Ct);
            foreach (var (prefix, regions) in sends) await initiator.WriteFileAsync(prefix, file, regions, Ct);
            Assert.Equal(expected.ToArray(), await receive);
            Assert.Equal(initiator.RecordsSent, responder.RecordsReceived);

            // A region past the end of the file (truncated under us) fails the write: no short message goes out.
            await Assert.ThrowsAsync<EndOfStreamException>(async () =>
                await initiator.WriteFileAsync([new byte[13]], file, [(content.Length - 100, 200)], Ct));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_second_writer_is_refused_rather_than_reusing_nonces()
    {
        var (a, b) = await TcpPairAsync();
        // The dialer's socket is never read past the handshake: a large write blocks inside the first writer.
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        await using var initiator = await SecureChannel.ConnectAsync(a, Secret, Ct);
        await using var responder = await accept;
        var blocked = initiator.WriteGatherAsync([new byte[64 << 20]], Ct).AsTask();
        await Task.Delay(200, Ct);
        Assert.False(blocked.IsCompleted);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await initiator.WriteAsync(new byte[10], Ct));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await initiator.FlushAsync(Ct));
        await responder.DisposeAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => blocked);
    }

    [Fact]
    public async Task The_wire_carries_no_plaintext()
    {
        var (a, b) = await TcpPairAsync();
        var tap = new RecordingStream(a);
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        await using var initiator = await SecureChannel.ConnectAsync(tap, Secret, Ct);
        await using var responder = await accept;
        byte[] marker = "\u0013BitTorrent protocol and an info-hash"u8.ToArray();
        await initiator.WriteAsync(marker, Ct);
        await initiator.FlushAsync(Ct);
        byte[] got = new byte[marker.Length];
        await responder.ReadExactlyAsync(got, Ct);
        Assert.Equal(marker, got);
        Assert.Equal(-1, tap.Written.AsSpan().IndexOf("BitTorrent"u8));
        Assert.Equal(8 + 32 + 1 + 32 + 4 + marker.Length + 16, tap.Written.Length); // hello (with the offer), proof, one record
    }

    [Fact]
    public async Task A_peer_with_another_secret_is_refused_on_both_sides_and_gets_no_data()
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        var wrong = await Assert.ThrowsAsync<SecureChannelException>(() => SecureChannel.ConnectAsync(a, Other, Ct));
        Assert.Equal(SecureChannelFailure.WrongSecret, wrong.Failure);
        Assert.Contains("different secret", wrong.Message);
        await a.DisposeAsync();
        var refused = await Assert.ThrowsAsync<SecureChannelException>(() => accept);
        Assert.Equal(SecureChannelFailure.WrongSecret, refused.Failure);
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_standard_BitTorrent_client_is_named_in_the_refusal_and_hears_nothing()
    {
        var (a, b) = await TcpPairAsync();
        byte[] handshake = new byte[68];
        handshake[0] = 19;
        "BitTorrent protocol"u8.CopyTo(handshake.AsSpan(1));
        await a.WriteAsync(handshake, Ct);
        var refused = await Assert.ThrowsAsync<SecureChannelException>(() => SecureChannel.AcceptAsync(b, Secret, Ct));
        Assert.Equal(SecureChannelFailure.NotSecretPeer, refused.Failure);
        Assert.Contains("plain BitTorrent handshake", refused.Message);
        Assert.Contains("standard BitTorrent clients", refused.Message);
        await b.DisposeAsync();
        // Not a byte: a clean end, or a reset (the listener closed with the rest of the 68 bytes unread).
        try
        {
            Assert.Equal(0, await a.ReadAsync(new byte[100], Ct));
        }
        catch (IOException)
        {
        }
        await a.DisposeAsync();
    }

    [Fact]
    public async Task A_secret_dialer_to_a_plain_listener_says_so()
    {
        var (a, b) = await TcpPairAsync();
        var connect = SecureChannel.ConnectAsync(a, Secret, Ct);
        byte[] hello = new byte[SecureChannel.InitiatorHelloLength];
        await b.ReadExactlyAsync(hello, Ct);
        await b.DisposeAsync(); // a plain BitTorrent peer closes on a wrong protocol string
        var ex = await Assert.ThrowsAsync<SecureChannelException>(() => connect);
        Assert.Equal(SecureChannelFailure.Closed, ex.Failure);
        await a.DisposeAsync();
    }

    [Fact]
    public async Task A_recorded_handshake_replayed_to_the_responder_is_refused_and_decrypts_nothing()
    {
        // Record everything an honest initiator sends: hello, proof and an encrypted message.
        var (a, b) = await TcpPairAsync();
        var tap = new RecordingStream(a);
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        await using (var initiator = await SecureChannel.ConnectAsync(tap, Secret, Ct))
        await using (var responder = await accept)
        {
            await initiator.WriteAsync("secret image bytes"u8.ToArray(), Ct);
            await initiator.FlushAsync(Ct);
            await responder.ReadExactlyAsync(new byte[18], Ct);
        }

        // Replay it byte for byte to a fresh responder: its new nonce makes the old proof worthless.
        var (c, d) = await TcpPairAsync();
        var replayed = SecureChannel.AcceptAsync(d, Secret, Ct);
        await c.WriteAsync(tap.Written, Ct);
        var ex = await Assert.ThrowsAsync<SecureChannelException>(() => replayed);
        Assert.Equal(SecureChannelFailure.WrongSecret, ex.Failure);
        Assert.Contains("replays", ex.Message);
        await c.DisposeAsync();
        await d.DisposeAsync();
    }

    [Fact]
    public async Task A_responder_proof_reflected_back_as_the_initiator_proof_is_refused()
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        byte[] hello = [.. SecureChannel.Magic, .. new byte[32], SecureChannel.MaskOf([CipherSuite.Aes256Gcm])];
        await a.WriteAsync(hello, Ct);
        byte[] answer = new byte[SecureChannel.ResponderHelloLength];
        await a.ReadExactlyAsync(answer, Ct);
        await a.WriteAsync(answer.AsMemory(41, 32), Ct); // the responder's own proof, over the same transcript
        var ex = await Assert.ThrowsAsync<SecureChannelException>(() => accept);
        Assert.Equal(SecureChannelFailure.WrongSecret, ex.Failure);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Theory]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    [InlineData("length")]
    [InlineData("truncated")]
    [InlineData("replayed record")]
    public async Task A_record_altered_on_the_way_ends_the_stream_without_yielding_its_bytes(string attack)
    {
        // A man in the middle that forwards the handshake, then tampers with the first record.
        var (a, b) = await TcpPairAsync();
        var (c, d) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(d, Secret, Ct);
        var connectTask = SecureChannel.ConnectAsync(a, Secret, Ct);
        byte[] hello = new byte[SecureChannel.InitiatorHelloLength], answer = new byte[SecureChannel.ResponderHelloLength], proof = new byte[32];
        await b.ReadExactlyAsync(hello, Ct);
        await c.WriteAsync(hello, Ct);
        await c.ReadExactlyAsync(answer, Ct);
        await b.WriteAsync(answer, Ct);
        await b.ReadExactlyAsync(proof, Ct);
        await c.WriteAsync(proof, Ct);
        await using var initiator = await connectTask;
        await using var responder = await accept;

        byte[] message = new byte[1000];
        new Random(1).NextBytes(message);
        await initiator.WriteAsync(message, Ct);
        await initiator.FlushAsync(Ct);
        byte[] record = new byte[1000 + SecureChannelStream.RecordOverhead];
        await b.ReadExactlyAsync(record, Ct);
        switch (attack)
        {
            case "ciphertext": record[500] ^= 1; await c.WriteAsync(record, Ct); break;
            case "tag": record[^1] ^= 0x80; await c.WriteAsync(record, Ct); break;
            case "length": record[3] = 0xff; record[2] = 0xff; record[1] = 0xff; await c.WriteAsync(record, Ct); break;
            case "truncated": await c.WriteAsync(record.AsMemory(0, 600), Ct); await c.DisposeAsync(); break;
            case "replayed record": await c.WriteAsync(record, Ct); await c.WriteAsync(record, Ct); break;
        }
        byte[] got = new byte[2000];
        if (attack == "replayed record")
        {
            // The first copy is genuine; the second reuses a nonce the receiver has moved past.
            await responder.ReadExactlyAsync(got.AsMemory(0, 1000), Ct);
            Assert.Equal(message, got[..1000]);
        }
        var ex = await Assert.ThrowsAsync<SecureChannelException>(async () => _ = await responder.ReadAsync(got, Ct));
        Assert.Equal(SecureChannelFailure.BadRecord, ex.Failure);
        if (attack != "replayed record") Assert.All(got, x => Assert.Equal(0, x));
    }

    /// <summary>Passes everything through and keeps a copy of what was written.</summary>
    private sealed class RecordingStream(Stream inner) : Stream
    {
        private readonly MemoryStream _written = new();
        public byte[] Written => _written.ToArray();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _written.Write(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }
        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
