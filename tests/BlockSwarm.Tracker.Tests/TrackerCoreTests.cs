using System.Buffers;
using System.Net;
using BlockSwarm.Bencode;
using CsCheck;
using Microsoft.Extensions.Time.Testing;
using static BlockSwarm.Tracker.Tests.TestQueries;

namespace BlockSwarm.Tracker.Tests;

public sealed class TrackerCoreTests
{
    private static readonly TrackerOptions NoRateLimit = new() { AnnouncesPerSecondPerIp = 0 };

    private static IPAddress Ip(int n) => new([10, 0, (byte)(n >> 8), (byte)n]);

    [Fact]
    public void First_announce_gets_no_peers_and_counts_itself()
    {
        var t = new Tracker(NoRateLimit, random: new Random(1));
        var d = Run(t, Announce(Hash(1), 1, 6881, ev: "started"));
        Assert.Equal(30, d.Require<BInteger>("interval").Value);
        Assert.Equal(10, d.Require<BInteger>("min interval").Value);
        Assert.Equal(1, d.Require<BInteger>("incomplete").Value);
        Assert.Equal(0, d.Require<BInteger>("complete").Value);
        Assert.Empty(CompactPeers(d));
    }

    [Fact]
    public void Peers_see_each_other_but_never_themselves()
    {
        var t = new Tracker(NoRateLimit, random: new Random(2));
        for (var i = 0; i < 30; i++) Run(t, Announce(Hash(1), i, 7000 + i), Ip(i));
        for (var i = 0; i < 30; i++)
        {
            var peers = CompactPeers(Run(t, Announce(Hash(1), i, 7000 + i), Ip(i)));
            Assert.Equal(29, peers.Count);
            Assert.DoesNotContain(new IPEndPoint(Ip(i), 7000 + i), peers);
            Assert.Equal(29, peers.Distinct().Count());
        }
    }

    [Fact]
    public void Same_endpoint_under_a_new_peer_id_is_not_returned_to_itself()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7000), Ip(1));
        Assert.Empty(CompactPeers(Run(t, Announce(Hash(1), 2, 7000), Ip(1))));
    }

    [Theory]
    [InlineData(null, 50)]
    [InlineData(10, 10)]
    [InlineData(0, 0)]
    [InlineData(1000, 200)]
    [InlineData(-1, 50)]
    public void Numwant_defaults_and_caps(int? numwant, int expected)
    {
        var t = new Tracker(NoRateLimit, random: new Random(3));
        for (var i = 0; i < 300; i++) Run(t, Announce(Hash(1), i, 7000), Ip(i));
        var peers = CompactPeers(Run(t, Announce(Hash(1), 999, 7000, numwant: numwant), Ip(999)));
        Assert.Equal(expected, peers.Count);
        Assert.Equal(expected, peers.Distinct().Count());
    }

    [Fact]
    public void Seeders_get_only_leechers_and_leechers_get_a_mix()
    {
        var t = new Tracker(NoRateLimit, random: new Random(4));
        for (var i = 0; i < 10; i++) Run(t, Announce(Hash(1), i, 7000, left: 0), Ip(i)); // seeders 0..9
        for (var i = 10; i < 200; i++) Run(t, Announce(Hash(1), i, 7000, left: 5), Ip(i)); // leechers
        var seederView = CompactPeers(Run(t, Announce(Hash(1), 0, 7000, left: 0), Ip(0)));
        Assert.All(seederView, p => Assert.True(p.Address.GetAddressBytes()[3] >= 10 || p.Address.GetAddressBytes()[2] > 0));
        var leecherView = CompactPeers(Run(t, Announce(Hash(1), 50, 7000, numwant: 20), Ip(50)));
        Assert.Equal(20, leecherView.Count);
        Assert.Equal(10, leecherView.Count(p => p.Address.GetAddressBytes()[3] < 10 && p.Address.GetAddressBytes()[2] == 0));
    }

    [Fact]
    public void Completed_counts_once_and_stopped_removes()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7000, left: 10, ev: "started"), Ip(1));
        Run(t, Announce(Hash(1), 1, 7000, left: 0, ev: "completed"), Ip(1));
        var d = Run(t, Announce(Hash(1), 1, 7000, left: 0, ev: "completed"), Ip(1));
        Assert.Equal(1, d.Require<BInteger>("complete").Value);
        Assert.Equal(0, d.Require<BInteger>("incomplete").Value);
        Assert.Equal(1, d.Require<BInteger>("downloaded").Value);
        d = Run(t, Announce(Hash(1), 1, 7000, left: 0, ev: "stopped"), Ip(1));
        Assert.Equal(0, d.Require<BInteger>("complete").Value);
        Assert.Empty(t.GetPeers(Hash(1)));
    }

    [Fact]
    public void Silent_peers_expire_after_two_intervals_plus_grace()
    {
        var time = new FakeTimeProvider();
        var t = new Tracker(NoRateLimit, time: time);
        Run(t, Announce(Hash(1), 1, 7000), Ip(1));
        Run(t, Announce(Hash(1), 2, 7000), Ip(2));
        time.Advance(TimeSpan.FromSeconds(60));
        Run(t, Announce(Hash(1), 2, 7000), Ip(2)); // peer 2 keeps announcing
        time.Advance(TimeSpan.FromSeconds(14));
        Assert.Equal(0, t.ExpireStale()); // 74 s < 75 s
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, t.ExpireStale());
        Assert.Single(t.GetPeers(Hash(1)));
        time.Advance(TimeSpan.FromSeconds(100));
        Assert.Equal(1, t.ExpireStale());
        Assert.Equal(0, t.SwarmCount); // empty swarms are dropped too
        Assert.Single(CompactPeers(Run(t, Announce(Hash(1), 3, 7000), Ip(3))).Append(new IPEndPoint(0, 0)));
    }

    [Fact]
    public void Allow_list_refuses_unknown_torrents()
    {
        var t = new Tracker(NoRateLimit, new AllowList([Hash(1)]));
        Assert.False(Run(t, Announce(Hash(1), 1, 7000)).ContainsKey("failure reason"));
        Assert.Equal("unregistered torrent", Run(t, Announce(Hash(2), 1, 7000)).Require<BString>("failure reason").Text);
    }

    [Fact]
    public void Allow_list_parses_hashes_and_files()
    {
        using var dir = new BlockSwarm.Testing.TempDirectory("allow");
        File.WriteAllLines(dir.File("w"), ["# comment", Hash(2).ToHex(), "", Hash(3).ToHex().ToUpperInvariant()]);
        var list = AllowList.Parse([Hash(1).ToHex(), dir.File("w")]);
        Assert.Equal(3, list.Count);
        Assert.True(list.Contains(Hash(3)));
        Assert.Throws<FormatException>(() => AllowList.Parse(["nope"]));
    }

    [Fact]
    public void Swarm_and_peer_caps_bound_memory()
    {
        var t = new Tracker(NoRateLimit with { MaxSwarms = 2, MaxPeersPerSwarm = 3 });
        Run(t, Announce(Hash(1), 1, 7000));
        Run(t, Announce(Hash(2), 1, 7000));
        Assert.StartsWith("tracker is full", Run(t, Announce(Hash(3), 1, 7000)).Require<BString>("failure reason").Text);
        for (var i = 0; i < 10; i++) Run(t, Announce(Hash(1), i, 7000), Ip(i));
        Assert.Equal(3, t.GetPeers(Hash(1)).Count);
        // An unstored peer still gets an answer with peers.
        Assert.Equal(3, CompactPeers(Run(t, Announce(Hash(1), 50, 7000), Ip(50))).Count);
    }

    [Fact]
    public void Rate_limit_per_source_address()
    {
        var time = new FakeTimeProvider();
        var t = new Tracker(new TrackerOptions { AnnouncesPerSecondPerIp = 1, AnnounceBurst = 3 }, time: time);
        for (var i = 0; i < 3; i++) Assert.False(Run(t, Announce(Hash(1), 1, 7000), Ip(1)).ContainsKey("failure reason"));
        Assert.StartsWith("rate limited", Run(t, Announce(Hash(1), 1, 7000), Ip(1)).Require<BString>("failure reason").Text);
        Assert.False(Run(t, Announce(Hash(1), 2, 7000), Ip(2)).ContainsKey("failure reason"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(Run(t, Announce(Hash(1), 1, 7000), Ip(1)).ContainsKey("failure reason"));
    }

    [Fact]
    public void Ip_parameter_is_honoured_only_from_trusted_sources()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7000, ip: "10.9.9.9"), IPAddress.Loopback);
        Run(t, Announce(Hash(1), 2, 7000, ip: "10.8.8.8"), Ip(2));
        var eps = t.GetPeers(Hash(1)).Select(p => p.EndPoint.Address.ToString()).Order().ToList();
        Assert.Equal(["10.0.0.2", "10.9.9.9"], eps);
    }

    [Fact]
    public void Ipv6_peers_go_to_peers6_and_mapped_addresses_are_ipv4()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7001), IPAddress.Parse("fd00::1"));
        Run(t, Announce(Hash(1), 2, 7002), IPAddress.Parse("::ffff:10.0.0.2"));
        var d = Run(t, Announce(Hash(1), 3, 7003), Ip(3));
        Assert.Equal(6, d.Require<BString>("peers").Length);
        Assert.Equal(18, d.Require<BString>("peers6").Length);
        Assert.Contains(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 7002), CompactPeers(d));
        Assert.Contains(new IPEndPoint(IPAddress.Parse("fd00::1"), 7001), CompactPeers(d));
    }

    [Fact]
    public void Non_compact_answer_is_a_list_of_dictionaries()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7001), Ip(1));
        var peers = Run(t, Announce(Hash(1), 2, 7002, compact: false), Ip(2)).Require<BList>("peers");
        var p = Assert.IsType<BDictionary>(Assert.Single(peers));
        Assert.Equal("10.0.0.1", p.Require<BString>("ip").Text);
        Assert.Equal(7001, p.Require<BInteger>("port").Value);
        Assert.Equal(PeerId(1), p.Require<BString>("peer id").Span.ToArray());
    }

    [Theory]
    [InlineData("", "missing info_hash")]
    [InlineData("?info_hash=abc&peer_id=x&port=1", "info_hash must be 20 bytes")]
    [InlineData("?info_hash=%zz", "malformed escape in 'info_hash'")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb", "missing port")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=0", "invalid port")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=70000", "invalid port")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=-5", "invalid left")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&event=bogus", "invalid event")]
    [InlineData("?info_hash=aaaaaaaaaaaaaaaaaaaa&port=1", "missing peer_id")]
    public void Malformed_queries_produce_failure_reasons(string query, string reason)
    {
        var d = Run(new Tracker(NoRateLimit), query);
        Assert.Equal(reason, d.Require<BString>("failure reason").Text);
    }

    [Fact]
    public void Info_hash_is_decoded_as_bytes_not_text()
    {
        var raw = new byte[] { 0xFF, 0x00, 0x80, (byte)'+', (byte)'%', 0xC3, 0x28, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
        var q = $"?info_hash={Escape(raw.AsSpan(0, 3))}+{Escape(raw.AsSpan(4))}&peer_id=aaaaaaaaaaaaaaaaaaaa&port=5";
        Assert.True(TrackerQuery.TryParseAnnounce(q, out var r, out _));
        Assert.Equal(raw, r!.InfoHash.Span.ToArray());
    }

    [Fact]
    public void Random_query_strings_never_throw_and_always_answer_a_dictionary()
    {
        var t = new Tracker(NoRateLimit with { MaxSwarms = 100 });
        var keys = Gen.OneOf<string>("info_hash", "peer_id", "port", "left", "uploaded", "downloaded", "event", "numwant", "compact", "ip", "no_peer_id", "x", "");
        var valueChars = Gen.Char['\0', '\u0200'];
        var escape = Gen.Byte.Select(b => $"%{b:X2}");
        var value = Gen.OneOf(
            Gen.OneOf(Gen.String[valueChars, 0, 30], escape.Array[0, 22].Select(string.Concat), Gen.Long.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                Gen.OneOf<string>("started", "stopped", "completed", "1", "%", "%4", "::1", "10.0.0.1")));
        var pair = Gen.Select(keys, value, Gen.Bool).Select((k, v, eq) => eq ? k + "=" + v : k + v);
        var query = Gen.Select(pair.Array[0, 12], Gen.Bool).Select((ps, q) => (q ? "?" : "") + string.Join('&', ps));
        query.Sample(q =>
        {
            var w = new ArrayBufferWriter<byte>();
            t.HandleAnnounce(q, IPAddress.Parse("10.1.2.3"), w);
            BencodeDecoder.DecodeDictionary(w.WrittenMemory);
            w.Clear();
            t.HandleScrape(q, w);
            BencodeDecoder.DecodeDictionary(w.WrittenMemory);
        }, iter: 20_000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Scrape_counts_several_torrents()
    {
        var t = new Tracker(NoRateLimit);
        Run(t, Announce(Hash(1), 1, 7000, left: 0), Ip(1));
        Run(t, Announce(Hash(1), 2, 7000), Ip(2));
        var w = new ArrayBufferWriter<byte>();
        t.HandleScrape($"info_hash={Hash(1).ToUrlEncoded()}&info_hash={Hash(2).ToUrlEncoded()}", w);
        var files = BencodeDecoder.DecodeDictionary(w.WrittenMemory).Require<BDictionary>("files");
        Assert.Equal(2, files.Count);
        var f1 = files[new BString(Hash(1).Span.ToArray())] as BDictionary;
        Assert.Equal(1, f1!.Require<BInteger>("complete").Value);
        Assert.Equal(1, f1.Require<BInteger>("incomplete").Value);
    }
}
