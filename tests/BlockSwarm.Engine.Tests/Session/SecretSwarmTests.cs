using System.Net;
using System.Net.Sockets;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>
/// A secret swarm (issue 18): members with the secret deploy bit-exact over encrypted connections; outsiders — a
/// BlockSwarm with another secret or none, a standard client's plain handshake, a hand-written client that knows the
/// protocol but not the secret — get not one byte of the image, and each refusal leaves one log line.
/// </summary>
public sealed class SecretSwarmTests(ITestOutputHelper output)
{
    private static readonly SwarmSecret Secret = SwarmSecret.FromText("lab 4 imaging secret, 2026", "test");
    private static readonly SwarmSecret Wrong = SwarmSecret.FromText("lab 5 imaging secret, 2026", "test");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (string Image, Torrent Torrent) MakeImage(TempDirectory dir, bool compressible)
    {
        const long size = 12 << 20;
        var img = dir.File("source.img");
        var data = new byte[size];
        if (compressible) CompressibleData.Fill(data, 9);
        else new Random(9).NextBytes(data);
        File.WriteAllBytes(img, data);
        var map = BlockMap.FromExtents(size, 1, [new Extent(0, 2 << 20), new Extent(5 << 20, (6 << 20) + 777)]);
        using var dev = DeviceFile.OpenRead(img);
        return (img, TorrentCreator.Create(dev, map, new CreateOptions { Name = "disk", PieceLength = 256 << 10 }));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Members_with_the_secret_deploy_bit_exact_over_encrypted_connections(bool compressible)
    {
        using var dir = new TempDirectory("secret");
        var (img, t) = MakeImage(dir, compressible);
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        using var logs = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, secret: Secret, logs: logs);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        var engines = new List<TorrentEngine>();
        var storages = new List<IPieceStorage>();
        var sessions = new List<TorrentSession>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var storage = DeviceStorage.CreateImage(dir.File($"t{i}.img"), t, size: new FileInfo(img).Length);
                storages.Add(storage);
                var engine = TestEngines.Start(IPAddress.Parse($"127.0.0.{2 + i}"), seed: 10 + i, secret: Secret);
                engines.Add(engine);
                sessions.Add(engine.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] }));
            }
            for (int i = 1; i < sessions.Count; i++) sessions[i].AddPeer(sessions[0].LocalEndPoint!);
            await Task.WhenAll(sessions.Select(s => s.Completion)).WaitAsync(TimeSpan.FromSeconds(60), Ct);
            foreach (var s in sessions)
            {
                var st = s.GetStats();
                output.WriteLine($"payload {st.PayloadDownloaded}, wire {st.WireDownloaded}, from peers {st.PayloadUploaded} up");
                Assert.Equal(0, st.HashFailures);
            }
            // Leechers served each other through their own encrypted connections, not only the origin.
            Assert.True(sessions.Sum(s => s.GetStats().PayloadUploaded) > 0, "no leecher uploaded to another");
            // Raw runs of the origin went out through the secure channel's file sends (read into its records, sealed in
            // place); compressible ones went compressed.
            if (!compressible) Assert.True(origin.GetStats().PayloadUploadedFromFile > 0, "the origin sent no run from its file");
            Assert.Contains(logs.Entries, e => e.EventId.Id == 13 && e.Message.Contains(Secret.Id, StringComparison.Ordinal) && e.Message.Contains("AES-128-OCB, AES-256-GCM", StringComparison.Ordinal));
            Assert.DoesNotContain(logs.Entries, e => e.EventId.Id is 11 or 12);
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var s in storages) await s.DisposeAsync();
        }
        for (int i = 0; i < 3; i++) LoopbackSwarmTests.AssertExtentsEqual(t, img, dir.File($"t{i}.img"));
    }

    [Fact]
    public async Task Engines_with_another_secret_or_none_get_no_byte_and_each_side_logs_why()
    {
        using var dir = new TempDirectory("secret");
        var (img, t) = MakeImage(dir, compressible: true);
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        using var originLogs = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, secret: Secret, logs: originLogs);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());

        using var wrongLogs = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        await using var wrongStorage = DeviceStorage.CreateImage(dir.File("wrong.img"), t, size: new FileInfo(img).Length);
        await using var wrongEngine = TestEngines.Start(IPAddress.Parse("127.0.0.2"), seed: 2, secret: Wrong, logs: wrongLogs);
        var wrong = wrongEngine.Add(t, wrongStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] });

        using var plainLogs = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        await using var plainStorage = DeviceStorage.CreateImage(dir.File("plain.img"), t, size: new FileInfo(img).Length);
        await using var plainEngine = TestEngines.Start(IPAddress.Parse("127.0.0.3"), seed: 3, logs: plainLogs);
        var plain = plainEngine.Add(t, plainStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] });

        // The origin refuses both (wrong proof; a plain handshake), and the wrong-secret dialer says why on its side.
        await Eventually.UntilAsync(() => originLogs.Entries.Count(e => e.EventId.Id == 11) >= 2 && wrongLogs.Entries.Any(e => e.EventId.Id == 12),
            TimeSpan.FromSeconds(20), "both outsiders refused");
        foreach (var e in originLogs.Entries.Where(e => e.EventId.Id is 11 or 12)) output.WriteLine(e.ToString());
        foreach (var e in wrongLogs.Entries.Where(e => e.EventId.Id is 11 or 12)) output.WriteLine(e.ToString());
        Assert.Contains(originLogs.Entries, e => e.EventId.Id == 11 && e.Message.Contains("plain BitTorrent handshake", StringComparison.Ordinal));
        Assert.Contains(originLogs.Entries, e => e.EventId.Id == 11 && e.Message.Contains("different secret", StringComparison.Ordinal));
        Assert.Contains(wrongLogs.Entries, e => e.EventId.Id == 12 && e.Message.Contains("different secret", StringComparison.Ordinal));
        foreach (var s in new[] { wrong, plain })
        {
            var st = s.GetStats();
            Assert.Equal(0, st.PayloadDownloaded);
            Assert.Equal(0, st.WireDownloaded);
            Assert.Equal(0, st.PiecesHave);
        }
        Assert.Equal(0, origin.GetStats().WireUploaded);
    }

    [Fact]
    public async Task A_secret_member_refuses_to_talk_BitTorrent_to_a_plain_listener()
    {
        using var dir = new TempDirectory("secret");
        var (img, t) = MakeImage(dir, compressible: false);
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var plainSeed = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1);
        var origin = plainSeed.Add(t, seedStorage, seedStorage.GetDurablePieces());
        using var logs = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        await using var storage = DeviceStorage.CreateImage(dir.File("t.img"), t, size: new FileInfo(img).Length);
        await using var member = TestEngines.Start(IPAddress.Parse("127.0.0.2"), seed: 2, secret: Secret, logs: logs);
        var session = member.Add(t, storage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [origin.LocalEndPoint!] });
        await Eventually.UntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 12), TimeSpan.FromSeconds(20), "the member gave up on the plain peer");
        Assert.Equal(0, session.GetStats().WireDownloaded);
        Assert.Equal(0, origin.GetStats().WireUploaded);
    }

    [Fact]
    public async Task Hand_written_outsiders_receive_nothing_but_the_handshake_answer()
    {
        using var dir = new TempDirectory("secret");
        var (img, t) = MakeImage(dir, compressible: false);
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, secret: Secret);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        var endPoint = origin.LocalEndPoint!;

        // 1. A standard client: the BitTorrent handshake with the right info-hash. The origin answers nothing at all.
        byte[] btHandshake = new byte[Handshake.Length];
        new Handshake(t.InfoHash.Span, PeerId.Create(new Random(1)), 0).Encode(btHandshake);
        Assert.Equal(0, await ExchangeAsync(endPoint, btHandshake));

        // 2. One that knows the protocol but not the secret: the 73-byte answer (magic, nonce, suite, proof), then nothing.
        byte[] hello = [.. SecureChannel.Magic, .. new byte[32], 0xff];
        Assert.Equal(AnswerLength, await ExchangeAsync(endPoint, hello, then: new byte[32]));

        // 3. The same, then an encrypted-looking record instead of a proof: still 73 bytes, then closed.
        Assert.Equal(AnswerLength, await ExchangeAsync(endPoint, hello, then: [.. new byte[32], .. btHandshake]));
        Assert.Equal(0, origin.GetStats().PayloadUploaded);
    }

    [Fact]
    public async Task Outsiders_cannot_hold_more_than_a_bounded_number_of_handshakes_nor_flood_the_log()
    {
        using var dir = new TempDirectory("secret");
        var (img, t) = MakeImage(dir, compressible: false);
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        using var logs = new RecordingLoggerFactory { MinLevel = LogLevel.Debug };
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.1"), seed: 1, secret: Secret, logs: logs);
        var origin = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        var endPoint = origin.LocalEndPoint!;

        // Connections that never send a byte hold their slots until the handshake timeout; past the cap, the next is closed at once.
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < ConnectionManager.MaxUnproven; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.70"), 0));
                await s.ConnectAsync(endPoint, Ct);
                idle.Add(s);
            }
            await Eventually.UntilAsync(() => seedEngine.ConnectionCount >= ConnectionManager.MaxUnproven, TimeSpan.FromSeconds(5), "every idle connection accepted");
            using var extra = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            extra.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.71"), 0));
            await extra.ConnectAsync(endPoint, Ct);
            int n;
            try
            {
                n = await extra.ReceiveAsync(new byte[16], SocketFlags.None, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);
            }
            catch (SocketException)
            {
                n = 0;
            }
            Assert.Equal(0, n);
            Assert.Contains(logs.Entries, e => e.EventId.Id == 14 && e.Message.Contains("already proving", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }

        // Three wrong-secret dials from one address: one warning, the rest at debug.
        logs.Clear();
        byte[] hello = [.. SecureChannel.Magic, .. new byte[32], 0xff];
        for (int i = 0; i < 3; i++) Assert.Equal(AnswerLength, await ExchangeAsync(endPoint, hello, then: new byte[32]));
        await Eventually.UntilAsync(() => logs.Entries.Count(e => e.EventId.Id is 11 or 14 && e.Message.Contains("127.0.0.66", StringComparison.Ordinal)) >= 3,
            TimeSpan.FromSeconds(10), "three refusals logged");
        Assert.Single(logs.Entries, e => e.EventId.Id == 11);
    }

    /// <summary>What a listener answers a hello with: magic, its nonce, the suite it chose and its proof.</summary>
    private const int AnswerLength = 8 + 32 + 1 + 32;

    /// <summary>Sends <paramref name="first"/>, waits briefly, sends <paramref name="then"/>; returns every byte received until the peer closes.</summary>
    private static async Task<int> ExchangeAsync(IPEndPoint endPoint, byte[] first, byte[]? then = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.66"), 0));
        await socket.ConnectAsync(endPoint, Ct);
        await socket.SendAsync(first, SocketFlags.None, Ct);
        int total = 0;
        byte[] buffer = new byte[1 << 16];
        if (then != null)
        {
            // Collect the answer to the hello first, then send the rest.
            while (total < AnswerLength)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
                if (n == 0) return total;
                total += n;
            }
            await socket.SendAsync(then, SocketFlags.None, Ct);
        }
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(40), Ct);
            }
            catch (SocketException)
            {
                return total; // reset by the origin
            }
            if (n == 0) return total;
            total += n;
        }
    }
}
