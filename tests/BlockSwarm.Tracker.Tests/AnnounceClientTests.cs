using BlockSwarm.Testing;
using System.Net;
using System.Text;
using BlockSwarm.Bencode;
using Microsoft.Extensions.Time.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker.Tests;

public sealed class AnnounceClientTests
{
    private static byte[] Answer(int interval, int minInterval, params IPEndPoint[] peers)
    {
        var compact = new List<byte>();
        foreach (var p in peers.Where(p => p.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
            compact.AddRange([.. p.Address.GetAddressBytes(), (byte)(p.Port >> 8), (byte)p.Port]);
        var d = new BDictionary { ["interval"] = new BInteger(interval), ["min interval"] = new BInteger(minInterval), ["peers"] = new BString(compact.ToArray()) };
        return BencodeEncoder.Encode(d);
    }

    [Fact]
    public void Parses_dictionary_peers_peers6_warning_and_failure()
    {
        var d = new BDictionary
        {
            ["interval"] = new BInteger(60),
            ["warning message"] = new BString("slow down"),
            ["peers"] = new BList([new BDictionary { ["ip"] = new BString("10.0.0.7"), ["port"] = new BInteger(6881), ["peer id"] = new BString(PeerId(1)) }]),
            ["peers6"] = new BString(IPAddress.Parse("fd00::2").GetAddressBytes().Concat(new byte[] { 0x1A, 0xE1 }).ToArray()),
        };
        var r = TrackerAnnounceResponse.Parse(BencodeEncoder.Encode(d));
        Assert.Equal("slow down", r.WarningMessage);
        Assert.Equal(TimeSpan.FromSeconds(60), r.Interval);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("10.0.0.7"), 6881), new IPEndPoint(IPAddress.Parse("fd00::2"), 6881)], r.Peers);
        var ex = Assert.Throws<TrackerException>(() => TrackerAnnounceResponse.Parse("d14:failure reason4:nopee"u8.ToArray()));
        Assert.True(ex.IsFailureReason);
        Assert.Throws<TrackerException>(() => TrackerAnnounceResponse.Parse("<html>"u8.ToArray()));
    }

    [Fact]
    public void Announce_uri_escapes_binary_fields()
    {
        var uri = TrackerClient.BuildAnnounceUri(new Uri("http://t.example/announce?passkey=x"), new AnnounceParameters
        {
            InfoHash = Hash(1),
            PeerId = new byte[] { 0, (byte)'a', 0xFF, (byte)'%', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
            Port = 6881,
            Event = AnnounceEvent.Started,
        });
        var q = uri.Query;
        Assert.StartsWith("?passkey=x&info_hash=%01%02", q, StringComparison.Ordinal);
        Assert.Contains("peer_id=%00a%FF%25%01", q, StringComparison.Ordinal);
        Assert.Contains("&event=started", q, StringComparison.Ordinal);
        Assert.Contains("&compact=1", q, StringComparison.Ordinal);
        Assert.True(TrackerQuery.TryParseAnnounce(q, out var parsed, out _));
        Assert.Equal(Hash(1), parsed!.InfoHash);
    }

    private static AnnounceManager Manager(StubHandler stub, FakeTimeProvider time, IEnumerable<IEnumerable<Uri>> tiers, int seed = 1) =>
        new(new TrackerClient(new HttpClient(stub)), Hash(1), PeerId(1), 6881, tiers, () => new AnnounceProgress(0, 0, 100),
            new AnnounceManagerOptions { TimeProvider = time, Random = new Random(seed), InitialRetryDelay = TimeSpan.FromSeconds(5) });

    [Fact]
    public async Task Tiers_fall_through_and_promote_the_working_tracker()
    {
        var a = new Uri("http://a.test/announce");
        var b = new Uri("http://b.test/announce");
        var c = new Uri("http://c.test/announce");
        var stub = new StubHandler(u => u.Host == "b.test" ? StubHandler.Ok(Answer(30, 10, new IPEndPoint(IPAddress.Parse("10.0.0.9"), 1))) : StubHandler.Error());
        using var m = Manager(stub, new FakeTimeProvider(), [[a, b], [c]]);
        var r = await m.AnnounceRoundAsync(AnnounceEvent.Started, TestContext.Current.CancellationToken);
        Assert.Single(r.Peers);
        Assert.Equal(b, m.CurrentTracker);
        Assert.Equal([b, a], m.Tiers[0]);
        Assert.DoesNotContain(stub.Requests, u => u.Host == "c.test"); // the next tier only when a whole tier fails

        var stub2 = new StubHandler(u => u.Host == "c.test" ? StubHandler.Ok(Answer(30, 10)) : StubHandler.Error());
        using var m2 = Manager(stub2, new FakeTimeProvider(), [[a, b], [c]]);
        await m2.AnnounceRoundAsync(AnnounceEvent.None, TestContext.Current.CancellationToken);
        Assert.Equal(c, m2.CurrentTracker);
        Assert.Equal(3, stub2.Requests.Count);
    }

    [Fact]
    public void Tier_shuffle_is_seeded()
    {
        var urls = Enumerable.Range(0, 8).Select(i => new Uri($"http://t{i}.test/a")).ToList();
        var stub = new StubHandler(_ => StubHandler.Error());
        using var m1 = Manager(stub, new FakeTimeProvider(), [urls], seed: 7);
        using var m2 = Manager(stub, new FakeTimeProvider(), [urls], seed: 7);
        Assert.Equal(m1.Tiers[0], m2.Tiers[0]);
        Assert.NotEqual(urls, m1.Tiers[0]);
    }

    [Fact]
    public async Task Backoff_doubles_then_started_completed_and_stopped_are_sent()
    {
        var time = new FakeTimeProvider();
        var failing = 3;
        var stub = new StubHandler(_ => Interlocked.Decrement(ref failing) >= 0
            ? StubHandler.Error()
            : StubHandler.Ok(Answer(30, 10, new IPEndPoint(IPAddress.Parse("10.0.0.9"), 7000))));
        using var m = Manager(stub, time, [[new Uri("http://a.test/announce")]]);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var run = m.RunAsync(cts.Token);

        // A fake clock only moves timers that exist: wait until the loop has parked on a new delay.
        var waits = 0;
        async Task Parked()
        {
            await WaitFor(() => m.Waits > waits);
            waits = m.Waits;
        }

        await WaitFor(() => stub.Requests.Count == 1);
        // Retry 1 within (3.75, 5] s, retry 2 within (7.5, 10] s, retry 3 within (15, 20] s.
        foreach (var (min, max, count) in new[] { (3.75, 5.0, 2), (7.5, 10.0, 3), (15.0, 20.0, 4) })
        {
            await Parked();
            time.Advance(TimeSpan.FromSeconds(min - 0.01));
            await Task.Delay(50, TestContext.Current.CancellationToken);
            Assert.Equal(count - 1, stub.Requests.Count);
            time.Advance(TimeSpan.FromSeconds(max - min + 0.02));
            await WaitFor(() => stub.Requests.Count == count);
        }
        Assert.All(stub.Requests, u => Assert.Contains("event=started", u.Query, StringComparison.Ordinal));
        // The stub counts a request before the manager has parsed its answer and published the peers: wait for them.
        await WaitFor(() => m.Peers.TryPeek(out _));
        Assert.True(m.Peers.TryRead(out var peer));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.9"), 7000), peer);

        // Early re-announce for more peers waits for the min interval (10 s) from the last announce.
        await Parked();
        m.RequestMorePeers();
        await Parked();
        Assert.Equal(4, stub.Requests.Count);
        time.Advance(TimeSpan.FromSeconds(10));
        await WaitFor(() => stub.Requests.Count == 5);
        Assert.DoesNotContain("event=", stub.Requests[4].Query, StringComparison.Ordinal);

        m.NotifyCompleted();
        await WaitFor(() => stub.Requests.Count == 6);
        Assert.Contains("event=completed", stub.Requests[5].Query, StringComparison.Ordinal);

        await Parked();
        time.Advance(TimeSpan.FromSeconds(30));
        await WaitFor(() => stub.Requests.Count == 7);
        Assert.DoesNotContain("event=", stub.Requests[6].Query, StringComparison.Ordinal);

        await cts.CancelAsync();
        await run;
        await m.StopAsync(TestContext.Current.CancellationToken);
        Assert.Contains("event=stopped", stub.Requests[^1].Query, StringComparison.Ordinal);
    }

    internal static Task WaitFor(Func<bool> condition, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(condition))] string what = "") =>
        Eventually.UntilAsync(condition, TimeSpan.FromSeconds(5), what, poll: TimeSpan.FromMilliseconds(10), ct: TestContext.Current.CancellationToken);
}
