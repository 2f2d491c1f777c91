using System.Net;
using System.Net.Sockets;
using System.Text;
using BlockSwarm.Bencode;
using static BlockSwarm.Tracker.Tests.TestQueries;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker.Tests;

public sealed class HttpFrontTests
{
    private static async Task<StandaloneTrackerHost> StartAsync(AllowList? allow = null)
    {
        var host = new StandaloneTrackerHost(new TrackerOptions { AnnouncesPerSecondPerIp = 0 });
        await host.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), allow, TestContext.Current.CancellationToken);
        return host;
    }

    [Fact]
    public async Task Announce_and_scrape_over_http_with_keep_alive()
    {
        await using var host = await StartAsync();
        Assert.NotEqual(0, host.LocalEndPoint.Port);
        using var http = new HttpClient();
        var ct = TestContext.Current.CancellationToken;
        var first = await http.GetAsync(host.AnnounceUri + Announce(Hash(1), 1, 7001, ip: "127.0.0.5"), ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var body = await http.GetByteArrayAsync(host.AnnounceUri + Announce(Hash(1), 2, 7002), ct);
        var d = BencodeDecoder.DecodeDictionary(body);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("127.0.0.5"), 7001)], CompactPeers(d));
        var scrape = BencodeDecoder.DecodeDictionary(await http.GetByteArrayAsync($"{host.ScrapeUri}?info_hash={Hash(1).ToUrlEncoded()}", ct));
        Assert.Single(scrape.Require<BDictionary>("files"));
    }

    [Fact]
    public async Task Malformed_query_is_http_200_with_failure_reason()
    {
        await using var host = await StartAsync();
        using var http = new HttpClient();
        var response = await http.GetAsync(host.AnnounceUri + "?info_hash=abc", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var d = BencodeDecoder.DecodeDictionary(await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Contains("info_hash", d.Require<BString>("failure reason").Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Allow_list_applies_over_http()
    {
        await using var host = await StartAsync(new AllowList([Hash(1)]));
        using var http = new HttpClient();
        var d = BencodeDecoder.DecodeDictionary(await http.GetByteArrayAsync(host.AnnounceUri + Announce(Hash(9), 1, 7001), TestContext.Current.CancellationToken));
        Assert.Equal("unregistered torrent", d.Require<BString>("failure reason").Text);
    }

    [Fact]
    public async Task Oversized_request_line_is_refused_without_a_tracker_answer()
    {
        await using var host = await StartAsync();
        using var tcp = new TcpClient();
        var ct = TestContext.Current.CancellationToken;
        await tcp.ConnectAsync(host.LocalEndPoint, ct);
        var stream = tcp.GetStream();
        var request = "GET /announce?x=" + new string('a', 20_000) + " HTTP/1.1\r\nHost: t\r\n\r\n";
        try { await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct); } catch (IOException) { }
        var buf = new byte[4096];
        var n = 0;
        try { n = await stream.ReadAsync(buf, ct); } catch (IOException) { }
        var text = Encoding.ASCII.GetString(buf, 0, n);
        Assert.True(n == 0 || text.StartsWith("HTTP/1.1 414", StringComparison.Ordinal) || text.StartsWith("HTTP/1.1 431", StringComparison.Ordinal), text);
    }

    [Fact]
    public async Task Client_announces_to_our_server_and_peers_find_each_other()
    {
        await using var host = await StartAsync();
        using var http = new HttpClient();
        var client = new TrackerClient(http);
        var ct = TestContext.Current.CancellationToken;
        AnnounceParameters P(int peer, int port) => new()
        {
            InfoHash = Hash(3),
            PeerId = PeerId(peer),
            Port = port,
            Left = 10,
            Event = AnnounceEvent.Started,
        };
        var r1 = await client.AnnounceAsync(host.AnnounceUri, P(1, 7001), ct);
        Assert.Empty(r1.Peers);
        Assert.Equal(TimeSpan.FromSeconds(30), r1.Interval);
        Assert.Equal(TimeSpan.FromSeconds(10), r1.MinInterval);
        var r2 = await client.AnnounceAsync(host.AnnounceUri, P(2, 7002), ct);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 7001)], r2.Peers);
        Assert.Equal(2, r2.Incomplete);
        var failure = await Assert.ThrowsAsync<TrackerException>(() =>
            client.AnnounceAsync(new Uri(host.AnnounceUri + "?port=0"), P(3, 7003), ct));
        Assert.True(failure.IsFailureReason);
    }
}
