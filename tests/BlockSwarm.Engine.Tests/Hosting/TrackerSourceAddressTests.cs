using System.Net;
using System.Net.Sockets;
using System.Text;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;

namespace BlockSwarm.Engine.Tests.Hosting;

/// <summary>
/// An engine bound to one address (the EZIO daemon's --bind-ip, fetch's --listen IP:PORT) announces from that address.
/// opentracker, the tracker Clonezilla runs, ignores <c>ip=</c> and records the connection's source: before this, four
/// daemons on 127.0.0.x all announced from 127.0.0.1 and opentracker handed each of them 127.0.0.1:6881, where none
/// of them listened.
/// </summary>
public sealed class TrackerSourceAddressTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A one-request HTTP tracker on 127.0.0.1 that notes where the announce came from and answers with no peers.</summary>
    private static async Task<IPAddress> AnnounceSourceAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync(Ct);
        var source = ((IPEndPoint)client.Client.RemoteEndPoint!).Address;
        var stream = client.GetStream();
        var buf = new byte[8192];
        var request = new StringBuilder();
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await stream.ReadAsync(buf, Ct);
            if (n == 0) break;
            request.Append(Encoding.ASCII.GetString(buf, 0, n));
        }
        Assert.StartsWith("GET /announce?", request.ToString(), StringComparison.Ordinal);
        var body = "d8:intervali1800e5:peers0:e"u8.ToArray();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), Ct);
        await stream.WriteAsync(body, Ct);
        return source;
    }

    [Theory]
    [InlineData("127.0.0.150", "127.0.0.150")]
    [InlineData(null, "127.0.0.1")]
    public async Task Announces_leave_from_the_engines_local_address(string? local, string expected)
    {
        using var dir = new TempDirectory("tracker-source");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var data = new byte[256 << 10];
            new Random(7).NextBytes(data);
            var b = new TorrentBuilder("sda1", 64 << 10) { PieceHashes = Hashes(data, 64 << 10) };
            b.AddFile(["a.bin"], data.Length);
            b.Trackers.Add([$"http://127.0.0.1:{port}/announce"]);
            var t = b.Build();
            await using var storage = FileStorage.Open(dir.Path, t);
            var address = local is null ? null : IPAddress.Parse(local);
            await using var engine = new TorrentEngine(new EngineOptions
            {
                Listen = [new IPEndPoint(address ?? IPAddress.Loopback, 0)],
                LocalAddress = address,
                Discovery = new DiscoveryOptions { Pex = false },
            });
            engine.Start();
            var announce = AnnounceSourceAsync(listener);
            engine.Add(t, storage, new Bitfield(t.PieceCount));
            Assert.Same(announce, await Task.WhenAny(announce, Task.Delay(TimeSpan.FromSeconds(20), Ct)));
            Assert.Equal(IPAddress.Parse(expected), await announce);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_torrent_complete_when_it_starts_announces_started_and_never_completed()
    {
        // BEP 3: completed is for a download that completes; opentracker counted Clonezilla's seeding server as one.
        using var dir = new TempDirectory("tracker-seed");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var data = new byte[256 << 10];
            new Random(8).NextBytes(data);
            var b = new TorrentBuilder("sda2", 64 << 10) { PieceHashes = Hashes(data, 64 << 10) };
            b.AddFile(["a.bin"], data.Length);
            b.Trackers.Add([$"http://127.0.0.1:{port}/announce"]);
            var t = b.Build();
            Directory.CreateDirectory(dir.File("sda2"));
            File.WriteAllBytes(Path.Combine(dir.File("sda2"), "a.bin"), data);
            await using var storage = FileStorage.Open(dir.Path, t, writable: false);
            var all = PieceRecovery.TrustSeed(storage).Pieces;
            await using var engine = new TorrentEngine(new EngineOptions { Listen = [new IPEndPoint(IPAddress.Loopback, 0)], Discovery = new DiscoveryOptions { Pex = false } });
            engine.Start();
            var queries = new List<string>();
            var serving = ServeAsync(listener, queries);
            var session = engine.Add(t, storage, all);
            await session.Completion.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            await Eventually.UntilAsync(() => { lock (queries) return queries.Count >= 1; }, TimeSpan.FromSeconds(20), "the first announce", ct: Ct);
            // A completed announce is sent at once when due: give it time to show.
            await Task.Delay(1500, Ct);
            lock (queries)
            {
                Assert.Contains("event=started", queries[0], StringComparison.Ordinal);
                Assert.Contains("left=0", queries[0], StringComparison.Ordinal);
                Assert.DoesNotContain(queries, q => q.Contains("event=completed", StringComparison.Ordinal));
            }
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Answers every announce with no peers, noting each request line.</summary>
    private static async Task ServeAsync(TcpListener listener, List<string> queries)
    {
        try
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync(Ct);
                var stream = client.GetStream();
                var buf = new byte[8192];
                var request = new StringBuilder();
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    int n = await stream.ReadAsync(buf, Ct);
                    if (n == 0) break;
                    request.Append(Encoding.ASCII.GetString(buf, 0, n));
                }
                lock (queries) queries.Add(request.ToString().Split('\n')[0]);
                var body = "d8:intervali1800e5:peers0:e"u8.ToArray();
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), Ct);
                await stream.WriteAsync(body, Ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
        }
    }

    [Fact]
    public void A_loopback_address_is_only_bound_towards_loopback_and_only_within_its_family()
    {
        var lo = IPAddress.Parse("127.0.0.150");
        Assert.True(TrackerHttp.CanBind(lo, IPAddress.Parse("127.0.0.1")));
        Assert.False(TrackerHttp.CanBind(lo, IPAddress.Parse("10.77.0.1")));
        Assert.False(TrackerHttp.CanBind(lo, IPAddress.IPv6Loopback));
        Assert.True(TrackerHttp.CanBind(IPAddress.Parse("10.77.0.11"), IPAddress.Parse("10.77.0.1")));
    }
}
