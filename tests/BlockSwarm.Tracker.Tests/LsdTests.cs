using System.Net;
using BlockSwarm.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;
using BlockSwarm.Tracker.Client.Lsd;

namespace BlockSwarm.Tracker.Tests;

public sealed class LsdTests
{
    [Fact]
    public void Message_round_trip_and_rejects()
    {
        var a = new LsdAnnouncement(6881, [Hash(1), Hash(2)], "abc");
        var bytes = a.Encode("239.192.152.143:6771");
        var text = System.Text.Encoding.ASCII.GetString(bytes);
        Assert.StartsWith("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n\r\n", text, StringComparison.Ordinal);
        Assert.True(LsdAnnouncement.TryParse(bytes, out var back));
        Assert.Equal(6881, back!.Port);
        Assert.Equal([Hash(1), Hash(2)], back.InfoHashes);
        Assert.Equal("abc", back.Cookie);
        Assert.False(LsdAnnouncement.TryParse("GET / HTTP/1.1\r\n\r\n"u8, out _));
        Assert.False(LsdAnnouncement.TryParse("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: 00\r\n\r\n"u8, out _));
        Assert.False(LsdAnnouncement.TryParse(new byte[2000], out _));
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces)]
    public async Task Two_services_discover_each_other_over_multicast_in_a_private_namespace()
    {
        using var ns = NetworkNamespace.Create("lsd");
        ns.Ip("route", "add", "239.0.0.0/8", "dev", "lo", "src", "127.0.0.1");
        // A private group/port as well, so nothing outside the namespace could ever collide.
        var group = new IPEndPoint(IPAddress.Parse("239.192.152.143"), 16771);
        var a = new LsdService(new LsdOptions { Group = group, Cookie = "a" });
        // b may announce again at once: its first announce can go out before a has registered the torrent.
        var b = new LsdService(new LsdOptions { Group = group, Cookie = "b", MinAnnounceInterval = TimeSpan.Zero });
        await using var _a = a;
        await using var _b = b;
        ns.RunOnThread(() => { a.Start(); b.Start(); return 0; });
        b.Register(Hash(1), 2222);
        a.Register(Hash(1), 1111);
        a.Register(Hash(2), 1111); // b does not have torrent 2: not reported to it
        Assert.True(await b.TryAnnounceAsync(Hash(1), TestContext.Current.CancellationToken));

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        var heardByB = await b.Peers.ReadAsync(cts.Token);
        Assert.Equal(new LsdPeer(Hash(1), new IPEndPoint(IPAddress.Loopback, 1111)), heardByB);
        var heardByA = await a.Peers.ReadAsync(cts.Token);
        Assert.Equal(new LsdPeer(Hash(1), new IPEndPoint(IPAddress.Loopback, 2222)), heardByA);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.False(b.Peers.TryRead(out var extra), $"unexpected {extra}"); // own cookie and foreign torrents ignored

        // Rate limit: a second announce within the minute is not sent.
        Assert.False(await a.TryAnnounceAsync(Hash(1), TestContext.Current.CancellationToken));
    }
}
