using System.Buffers;
using System.Net;
using BlockSwarm.Bencode;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using BlockSwarm.Tracker.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;

namespace BlockSwarm.Tracker.Tests;

/// <summary>
/// A tracker with a swarm secret answers only announces that prove it (issue 18): the right proof gets peers; no proof,
/// a wrong secret, a stale time, a replayed proof or a parameter changed after the proof is refused with the failure
/// reason, one log line saying why, and not a single peer listed; scrape is refused. Without a secret nothing changes.
/// </summary>
public sealed class SwarmSecretTrackerTests
{
    private static readonly SwarmSecret Secret = SwarmSecret.FromText("the lab's swarm secret, 2026", "test");
    private static readonly SwarmSecret Other = SwarmSecret.FromText("somebody else's swarm secret", "test");
    private static readonly DateTimeOffset Start = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);
    private static readonly IPAddress Source = IPAddress.Parse("10.1.2.3");

    private static (Tracker Tracker, FakeTimeProvider Time, RecordingLoggerFactory Log) NewTracker(int maxProofs = 200_000)
    {
        var time = new FakeTimeProvider(Start);
        var log = new RecordingLoggerFactory();
        var tracker = new Tracker(new TrackerOptions { SwarmSecret = Secret, AnnouncesPerSecondPerIp = 0, LoggerFactory = log, MaxRememberedProofs = maxProofs },
            null, time, new Random(1));
        return (tracker, time, log);
    }

    private static AnnounceParameters P(int peer, int port, AnnounceEvent ev = AnnounceEvent.Started, long left = 100) => new()
    {
        InfoHash = Hash(1),
        PeerId = PeerId(peer),
        Port = port,
        Left = left,
        Event = ev,
        NumWant = 50,
        Key = 0x1234,
    };

    /// <summary>The query our client sends for <paramref name="p"/>, proved by <paramref name="secret"/> at <paramref name="at"/>.</summary>
    private static string Query(AnnounceParameters p, SwarmSecret? secret, DateTimeOffset at, byte nonce = 1)
    {
        string? proof = secret is null ? null
            : AnnounceProof.QueryOf(secret, AnnounceProof.FieldsOf(p, at.ToUnixTimeSeconds(), Enumerable.Repeat(nonce, AnnounceProof.NonceLength).ToArray()));
        return TrackerClient.BuildAnnounceUri(new Uri("http://t/announce"), p, proof).Query;
    }

    private static void AssertRefused(BDictionary answer, string why)
    {
        var reason = answer.Require<BString>("failure reason").Text;
        Assert.StartsWith(AnnounceProof.Refusal, reason, StringComparison.Ordinal);
        Assert.True(reason.Contains(why, StringComparison.Ordinal), reason);
        Assert.Null(answer.Get<BString>("peers"));
        Assert.Null(answer.Get<BInteger>("complete"));
        Assert.Null(answer.Get<BInteger>("incomplete"));
    }

    private static void AssertLogged(RecordingLoggerFactory log, string why)
    {
        var line = Assert.Single(log.Named("AnnounceUnproven"));
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(2013, line.EventId.Id);
        Assert.StartsWith($"announce from {Source} for {Hash(1).ToHex()} refused: {why}", line.Message, StringComparison.Ordinal);
    }

    /// <summary>Peer 1 (port 7001) is in the swarm, announced with a good proof.</summary>
    private static void Seed(Tracker t)
    {
        var first = Run(t, Query(P(1, 7001, left: 0), Secret, Start, nonce: 9), IPAddress.Parse("10.0.0.9"));
        Assert.Null(first.Get<BString>("failure reason"));
    }

    [Fact]
    public void An_announce_with_the_right_proof_gets_peers()
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        var answer = Run(t, Query(P(2, 7002), Secret, Start), Source);
        Assert.Null(answer.Get<BString>("failure reason"));
        Assert.Equal([new IPEndPoint(IPAddress.Parse("10.0.0.9"), 7001)], CompactPeers(answer));
        Assert.Equal(2, t.GetPeers(Hash(1)).Count);
        Assert.Empty(log.Named("AnnounceUnproven"));
        Assert.True(t.RequiresSecret);
        Assert.Equal(2, t.RememberedProofs);
    }

    [Fact]
    public void An_announce_without_proof_is_refused_and_lists_no_one()
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        AssertRefused(Run(t, Query(P(2, 7002), null, Start), Source), "(no proof)");
        AssertLogged(log, "no proof");
        Assert.Single(t.GetPeers(Hash(1))); // not added either
    }

    [Fact]
    public void An_announce_proved_with_another_secret_is_refused()
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        AssertRefused(Run(t, Query(P(2, 7002), Other, Start), Source), "wrong proof");
        AssertLogged(log, "wrong proof");
        Assert.Single(t.GetPeers(Hash(1)));
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    public void An_announce_whose_time_is_outside_the_window_is_refused(int seconds)
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        AssertRefused(Run(t, Query(P(2, 7002), Secret, Start.AddSeconds(seconds)), Source), "stale time");
        AssertLogged(log, "stale time: the proof was made 301 s " + (seconds < 0 ? "before" : "after"));
        // Just inside the window is fine.
        Assert.Null(Run(t, Query(P(2, 7002), Secret, Start.AddSeconds(Math.Sign(seconds) * 300)), Source).Get<BString>("failure reason"));
    }

    [Fact]
    public void A_replayed_announce_is_refused_even_within_the_window()
    {
        var (t, time, log) = NewTracker();
        Seed(t);
        var query = Query(P(2, 7002), Secret, Start);
        Assert.Null(Run(t, query, Source).Get<BString>("failure reason"));
        // The peer leaves; an eavesdropper replays its recorded announce a minute later to learn the swarm.
        Assert.Null(Run(t, Query(P(2, 7002, AnnounceEvent.Stopped), Secret, Start, nonce: 2), Source).Get<BString>("failure reason"));
        time.Advance(TimeSpan.FromMinutes(1));
        AssertRefused(Run(t, query, Source), "replayed proof");
        AssertLogged(log, "replayed proof");
        Assert.Single(t.GetPeers(Hash(1)));
        // Once its time has left the window it is forgotten, and refused as stale instead.
        time.Advance(TimeSpan.FromMinutes(5));
        AssertRefused(Run(t, query, Source), "stale time");
    }

    [Theory]
    [InlineData("&port=7002", "&port=7003")] // another port after the proof was made
    [InlineData("&left=100", "&left=0")] // claims to be a seeder
    [InlineData("&numwant=50", "&numwant=200")]
    [InlineData("&event=started", "&event=stopped")]
    [InlineData("&compact=1", "&compact=0")]
    [InlineData("&key=00001234", "&key=00001234&left=0")] // a repeated parameter: the tracker acts on the last one
    [InlineData("&key=00001234", "&key=00001234&ip=10.9.9.9")]
    [InlineData("&bs_time=", "&bs_time=1")] // the time moved (prefix: 1 before the real digits)
    [InlineData("&bs_nonce=01", "&bs_nonce=02")]
    public void A_parameter_changed_after_the_proof_breaks_it(string from, string to)
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        var query = Query(P(2, 7002), Secret, Start);
        Assert.Contains(from, query, StringComparison.Ordinal);
        var tampered = query.Replace(from, to, StringComparison.Ordinal);
        var answer = Run(t, tampered, Source);
        var reason = answer.Require<BString>("failure reason").Text;
        Assert.StartsWith(AnnounceProof.Refusal, reason, StringComparison.Ordinal);
        Assert.True(reason.Contains("wrong proof", StringComparison.Ordinal) || reason.Contains("stale time", StringComparison.Ordinal), reason);
        Assert.Null(answer.Get<BString>("peers"));
        Assert.Single(log.Named("AnnounceUnproven"));
        Assert.Single(t.GetPeers(Hash(1)));
        // The untouched announce still goes through: the refusal spent nothing.
        Assert.Null(Run(t, query, Source).Get<BString>("failure reason"));
    }

    [Theory]
    [InlineData("&bs_proof=zz", "malformed proof")]
    [InlineData("&bs_proof=00", "malformed proof")]
    [InlineData("&bs_time=1", "malformed proof: bs_proof missing")]
    public void A_malformed_proof_is_refused(string parameters, string why)
    {
        var (t, _, log) = NewTracker();
        AssertRefused(Run(t, Query(P(2, 7002), null, Start) + parameters, Source), why);
        AssertLogged(log, why);
    }

    [Fact]
    public void Scrape_is_refused()
    {
        var (t, _, log) = NewTracker();
        Seed(t);
        var w = new ArrayBufferWriter<byte>();
        t.HandleScrape($"info_hash={Hash(1).ToUrlEncoded()}", w, Source);
        var answer = BencodeDecoder.DecodeDictionary(w.WrittenMemory);
        Assert.StartsWith(AnnounceProof.Refusal, answer.Require<BString>("failure reason").Text, StringComparison.Ordinal);
        Assert.Null(answer.Get<BDictionary>("files"));
        Assert.Equal($"scrape from {Source} refused: the tracker serves a secret swarm and tells no one its counts", Assert.Single(log.Named("ScrapeRefused")).Message);
    }

    [Fact]
    public void The_replay_cache_is_bounded_and_never_forgets_a_proof_it_would_still_accept()
    {
        var (t, time, _) = NewTracker(maxProofs: 3);
        var queries = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            queries.Add(Query(P(10 + i, 7010 + i), Secret, time.GetUtcNow()));
            Assert.Null(Run(t, queries[i], Source).Get<BString>("failure reason"));
            time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(3, t.RememberedProofs);
        // A fourth pushes the oldest out: its time becomes the floor, so replaying it is still refused.
        Assert.Null(Run(t, Query(P(13, 7013), Secret, time.GetUtcNow()), Source).Get<BString>("failure reason"));
        Assert.Equal(3, t.RememberedProofs);
        AssertRefused(Run(t, queries[0], Source), "stale time: older than the replay cache reaches");
        AssertRefused(Run(t, queries[1], Source), "replayed proof");
        // Proofs whose time left the window are dropped as time passes.
        time.Advance(TimeSpan.FromMinutes(6));
        Assert.Null(Run(t, Query(P(14, 7014), Secret, time.GetUtcNow()), Source).Get<BString>("failure reason"));
        Assert.Equal(1, t.RememberedProofs);
    }

    [Fact]
    public void Without_a_secret_the_proof_parameters_are_ignored()
    {
        var t = new Tracker(new TrackerOptions { AnnouncesPerSecondPerIp = 0 }, null, new FakeTimeProvider(Start), new Random(1));
        Assert.False(t.RequiresSecret);
        Run(t, Query(P(1, 7001), null, Start), IPAddress.Parse("10.0.0.9"));
        var answer = Run(t, Query(P(2, 7002), Other, Start.AddHours(-3)), Source); // stale, other secret: nobody checks
        Assert.Equal([new IPEndPoint(IPAddress.Parse("10.0.0.9"), 7001)], CompactPeers(answer));
        var w = new ArrayBufferWriter<byte>();
        t.HandleScrape($"info_hash={Hash(1).ToUrlEncoded()}", w, Source);
        Assert.Single(BencodeDecoder.DecodeDictionary(w.WrittenMemory).Require<BDictionary>("files"));
    }

    [Fact]
    public void The_proof_message_covers_each_field_and_normalises_mapped_addresses()
    {
        var nonce = new byte[AnnounceProof.NonceLength];
        var baseFields = AnnounceProof.FieldsOf(P(1, 7001) with { Ip = IPAddress.Parse("10.0.0.5") }, 1_800_000_000, nonce);
        var proof = AnnounceProof.Compute(Secret, baseFields);
        Assert.Equal(AnnounceProof.ProofLength, proof.Length);
        Assert.True(AnnounceProof.Verify(Secret, baseFields, proof));
        Assert.True(AnnounceProof.Verify(Secret, baseFields with { Ip = IPAddress.Parse("10.0.0.5").MapToIPv6() }, proof));
        Assert.False(AnnounceProof.Verify(Other, baseFields, proof));
        AnnounceProofFields[] changed =
        [
            baseFields with { InfoHash = Hash(2) }, baseFields with { PeerId = PeerId(2) }, baseFields with { Port = 7002 },
            baseFields with { Event = AnnounceEvent.Stopped }, baseFields with { Left = 0 }, baseFields with { Uploaded = 1 },
            baseFields with { Downloaded = 1 }, baseFields with { NumWant = 51 }, baseFields with { Compact = false },
            baseFields with { NoPeerId = true }, baseFields with { Ip = null }, baseFields with { Ip = IPAddress.Parse("10.0.0.6") },
            baseFields with { Time = 1_800_000_001 }, baseFields with { Nonce = new byte[] { 1, 0, 0, 0, 0, 0, 0, 0 } },
        ];
        foreach (var f in changed) Assert.False(AnnounceProof.Verify(Secret, f, proof), f.ToString());
        // Negative numwant means "the tracker's default", as the tracker parses it.
        Assert.True(AnnounceProof.Verify(Secret, baseFields with { NumWant = -1 }, AnnounceProof.Compute(Secret, baseFields with { NumWant = -7 })));
    }

    [Fact]
    public async Task Over_http_our_client_with_the_secret_gets_peers_and_without_it_is_told_why()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new RecordingLoggerFactory();
        await using var host = new StandaloneTrackerHost(new TrackerOptions { SwarmSecret = Secret, AnnouncesPerSecondPerIp = 0, LoggerFactory = log });
        await host.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, ct);
        Assert.Contains(log.Named("SecretRequired"), e => e.Message.Contains(Secret.Id, StringComparison.Ordinal));
        using var http = new HttpClient();
        var withSecret = new TrackerClient(http, Secret);
        var first = await withSecret.AnnounceAsync(host.AnnounceUri, P(1, 7001), ct);
        Assert.Empty(first.Peers);
        var second = await withSecret.AnnounceAsync(host.AnnounceUri, P(2, 7002), ct);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 7001)], second.Peers);

        // A standard client (ours without the secret stands in for it) and one with another secret.
        foreach (var client in new[] { new TrackerClient(http), new TrackerClient(http, Other) })
        {
            var refused = await Assert.ThrowsAsync<TrackerException>(() => client.AnnounceAsync(host.AnnounceUri, P(3, 7003), ct));
            Assert.True(refused.IsFailureReason);
            Assert.Contains(AnnounceProof.Refusal, refused.Message, StringComparison.Ordinal);
        }
        Assert.Equal(["no proof", "wrong proof"], log.Named("AnnounceUnproven").Select(e => ((string)e.State["Reason"]!).Split(':')[0]));
        Assert.All(log.Named("AnnounceUnproven"), e => Assert.Contains("127.0.0.1", e.Message, StringComparison.Ordinal));
        Assert.Equal(2, host.Tracker.GetPeers(Hash(1)).Count);

        var scrape = BencodeDecoder.DecodeDictionary(await http.GetByteArrayAsync($"{host.ScrapeUri}?info_hash={Hash(1).ToUrlEncoded()}", ct));
        Assert.StartsWith(AnnounceProof.Refusal, scrape.Require<BString>("failure reason").Text, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", Assert.Single(log.Named("ScrapeRefused")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_with_a_secret_skips_udp_trackers_with_one_line_each()
    {
        var log = new RecordingLoggerFactory();
        Uri http = new("http://t/announce"), https = new("https://t/announce"), udp = new("udp://t:6969/announce");
        var tiers = AnnounceManager.HttpTiers([[udp, http], [udp], [https]], Hash(1), withProof: true, log);
        Assert.Equal(["http://t/announce", "https://t/announce"], tiers.Select(t => string.Join(" ", t)));
        var lines = log.Named("TrackerCannotCarryProof");
        Assert.Equal(2, lines.Count);
        Assert.Equal(LogLevel.Warning, lines[0].Level);
        Assert.Equal($"tracker {udp} is not announced to for {Hash(1).ToHex()}: a swarm secret is set and a udp tracker cannot carry its proof (only HTTP(S) trackers can)", lines[0].Message);
        // Without a secret UDP trackers are left out silently, as before (this client never spoke BEP 15).
        log.Clear();
        Assert.Equal(["http://t/announce", "https://t/announce"],
            AnnounceManager.HttpTiers([[udp, http], [udp], [https]], Hash(1), withProof: false, log).Select(t => string.Join(" ", t)));
        Assert.Empty(log.Entries);
        // Asked directly, the client says why it will not.
        using var client = new HttpClient();
        var refused = await Assert.ThrowsAsync<TrackerException>(() => new TrackerClient(client, Secret).AnnounceAsync(udp, P(1, 7001), TestContext.Current.CancellationToken));
        Assert.Contains("cannot carry the swarm secret's proof", refused.Message, StringComparison.Ordinal);
    }
}
