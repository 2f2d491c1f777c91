using System.Net;
using BlockSwarm.Bencode;
using BlockSwarm.Testing;
using BlockSwarm.Tracker.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;

namespace BlockSwarm.Tracker.Tests;

/// <summary>Every refusal and failure an operator can meet leaves one line naming who, what and why.</summary>
public sealed class LoggingTests
{
    [Fact]
    public void Refused_announces_are_logged_with_their_source_and_reason()
    {
        var log = new RecordingLoggerFactory();
        var time = new FakeTimeProvider();
        var t = new Tracker(new TrackerOptions { LoggerFactory = log, AnnouncesPerSecondPerIp = 1, AnnounceBurst = 2, MaxSwarms = 1 }, new AllowList([Hash(1), Hash(3)]), time);
        var source = IPAddress.Parse("10.1.2.3");

        Run(t, Announce(Hash(2), 1, 7000), source);
        var notAllowed = Assert.Single(log.Named("AnnounceNotAllowed"));
        Assert.Equal(LogLevel.Warning, notAllowed.Level);
        Assert.Equal(2002, notAllowed.EventId.Id);
        Assert.Equal($"announce from 10.1.2.3 for {Hash(2).ToHex()} refused: info-hash not on the allow list", notAllowed.Message);

        time.Advance(TimeSpan.FromSeconds(10));
        Run(t, "?info_hash=abc&peer_id=x&port=1", IPAddress.Parse("10.9.9.9"));
        var malformed = Assert.Single(log.Named("AnnounceMalformed"));
        Assert.Equal("announce from 10.9.9.9 refused: malformed request (info_hash must be 20 bytes)", malformed.Message);

        Run(t, Announce(Hash(1), 1, 7000), source);
        Run(t, Announce(Hash(3), 1, 7000), IPAddress.Parse("10.1.2.4"));
        Assert.Contains("10.1.2.4", Assert.Single(log.Named("TrackerFull")).Message);

        // A flood: one warning when the source starts being limited, debug lines after it, a warning again next time.
        for (int i = 0; i < 5; i++) Run(t, Announce(Hash(1), 1, 7000), source);
        var limited = Assert.Single(log.Named("RateLimited"));
        Assert.Equal(LogLevel.Warning, limited.Level);
        Assert.StartsWith("announces from 10.1.2.3 are rate limited", limited.Message, StringComparison.Ordinal);
        Assert.Equal(3, log.Named("RateLimitedAgain").Count); // 5 tries, 1 token left: 1 allowed, 1 warning, 3 at debug
        time.Advance(TimeSpan.FromSeconds(5));
        Run(t, Announce(Hash(1), 1, 7000), source);
        Run(t, Announce(Hash(1), 1, 7000), source);
        Run(t, Announce(Hash(1), 1, 7000), source);
        Assert.Equal(2, log.Named("RateLimited").Count);

        Assert.Contains(log.Named("Announced"), e => e.Level == LogLevel.Debug && (string)e["InfoHash"]!.ToString()! == Hash(1).ToHex());
    }

    [Fact]
    public async Task A_failed_announce_names_the_tracker_the_error_and_the_next_try_then_its_recovery()
    {
        var log = new RecordingLoggerFactory();
        var time = new FakeTimeProvider();
        var failing = 1;
        var answer = BencodeEncoder.Encode(new BDictionary
        {
            ["interval"] = new BInteger(30),
            ["peers"] = new BString(new byte[] { 10, 0, 0, 9, 0x1B, 0x58 }),
        });
        var stub = new StubHandler(_ => Interlocked.Decrement(ref failing) >= 0 ? StubHandler.Error() : StubHandler.Ok(answer));
        var url = new Uri("http://tracker.test:6969/announce");
        using var m = new AnnounceManager(new TrackerClient(new HttpClient(stub)), Hash(1), PeerId(1), 6881, [[url]], () => new AnnounceProgress(0, 0, 100),
            new AnnounceManagerOptions { TimeProvider = time, Random = new Random(1), InitialRetryDelay = TimeSpan.FromSeconds(4), LoggerFactory = log });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var run = m.RunAsync(cts.Token);

        await AnnounceClientTests.WaitFor(() => log.Named("AnnounceFailed").Count == 1);
        var failed = log.Named("AnnounceFailed")[0];
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Matches(@"^announce started for [0-9a-f]{40} failed \(1 in a row\): tracker http://tracker\.test:6969/announce answered HTTP 503; next try in \d(\.\d)? s$", failed.Message);

        await AnnounceClientTests.WaitFor(() => m.Waits > 0);
        time.Advance(TimeSpan.FromSeconds(4));
        await AnnounceClientTests.WaitFor(() => log.Named("AnnounceRecovered").Count == 1);
        Assert.Equal($"announce for {Hash(1).ToHex()} to {url} succeeded again after 1 failed attempts", log.Named("AnnounceRecovered")[0].Message);
        var peers = Assert.Single(log.Named("PeersReceived"));
        Assert.Equal(LogLevel.Debug, peers.Level);
        Assert.StartsWith($"{url} returned 1 peers for {Hash(1).ToHex()}", peers.Message, StringComparison.Ordinal);
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Every_tracker_of_a_failed_round_is_named_with_its_error()
    {
        var log = new RecordingLoggerFactory();
        var stub = new StubHandler(_ => StubHandler.Error());
        using var m = new AnnounceManager(new TrackerClient(new HttpClient(stub)), Hash(1), PeerId(1), 6881,
            [[new Uri("http://a.test/announce")], [new Uri("http://b.test/announce")]], () => new AnnounceProgress(0, 0, 100),
            new AnnounceManagerOptions { TimeProvider = new FakeTimeProvider(), LoggerFactory = log });
        var ex = await Assert.ThrowsAsync<TrackerException>(() => m.AnnounceRoundAsync(AnnounceEvent.None, TestContext.Current.CancellationToken));
        Assert.Equal("every tracker failed: tracker http://a.test/announce answered HTTP 503; tracker http://b.test/announce answered HTTP 503", ex.Message);
    }
}
