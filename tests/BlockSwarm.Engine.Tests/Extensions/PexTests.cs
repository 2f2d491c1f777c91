using System.Net;
using BlockSwarm.Bencode;
using BlockSwarm.Engine.Extensions;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Extensions;

public sealed class PexTests
{
    private static IPEndPoint Ep(int n, int port = 6881) => new(new IPAddress([10, 0, (byte)(n >> 8), (byte)n]), port);

    [Fact]
    public void Round_trip_with_flags_and_ipv6()
    {
        var m = new PexMessage();
        m.Added.Add(new PexPeer(Ep(1), PexFlags.Seed | PexFlags.Reachable));
        m.Added.Add(new PexPeer(new IPEndPoint(IPAddress.Parse("fd00::5"), 7000), PexFlags.SupportsUtp));
        m.Dropped.Add(Ep(2));
        m.Dropped.Add(new IPEndPoint(IPAddress.Parse("fd00::6"), 7001));
        var bytes = m.Encode();
        var back = PexMessage.Decode(bytes);
        Assert.Equal(m.Added, back.Added);
        Assert.Equal(m.Dropped, back.Dropped);
        var d = BencodeDecoder.DecodeDictionary(bytes);
        Assert.Equal(6, d.Require<BString>("added").Length);
        Assert.Equal([(byte)0x12], d.Require<BString>("added.f").Span.ToArray());
    }

    [Fact]
    public void Random_round_trips()
    {
        var gPeer = Gen.Select(Gen.Byte.Array[4], Gen.Int[1, 65535], Gen.Byte).Select((a, p, f) => new PexPeer(new IPEndPoint(new IPAddress(a), p), (PexFlags)f));
        Gen.Select(gPeer.List[0, 50], gPeer.List[0, 50]).Sample((added, dropped) =>
        {
            var m = new PexMessage();
            m.Added.AddRange(added);
            m.Dropped.AddRange(dropped.Select(p => p.EndPoint));
            var back = PexMessage.Decode(m.Encode());
            Assert.Equal(m.Added, back.Added);
            Assert.Equal(m.Dropped, back.Dropped);
        }, iter: 500);
    }

    [Fact]
    public void Malformed_payloads_are_refused()
    {
        Assert.Throws<BencodeException>(() => PexMessage.Decode("d5:added5:abcdee"u8.ToArray()));
        Assert.Throws<BencodeException>(() => PexMessage.Decode(BencodeEncoder.Encode(new BDictionary { ["added"] = new BString(new byte[6 * 101]) })));
        Assert.Throws<BencodeException>(() => PexMessage.Decode(new byte[10_000]));
        // Missing flags are tolerated.
        var m = PexMessage.Decode(BencodeEncoder.Encode(new BDictionary { ["added"] = new BString(new byte[] { 10, 0, 0, 1, 0x1A, 0xE1 }) }));
        Assert.Equal(new PexPeer(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 6881)), Assert.Single(m.Added));
    }

    [Fact]
    public void Tracker_diffs_limits_to_50_and_once_a_minute()
    {
        var time = new FakeTimeProvider();
        var pex = new PexTracker(time);
        var connected = Enumerable.Range(0, 120).Select(i => new PexPeer(Ep(i))).ToList();
        var m1 = pex.TryBuild(connected)!;
        Assert.Equal(50, m1.Added.Count);
        Assert.Null(pex.TryBuild(connected)); // within the minute
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Null(pex.TryBuild(connected));
        time.Advance(TimeSpan.FromSeconds(1));
        var m2 = pex.TryBuild(connected)!;
        Assert.Equal(50, m2.Added.Count);
        Assert.Empty(m1.Added.Intersect(m2.Added));
        time.Advance(TimeSpan.FromMinutes(1));
        var remaining = connected.Skip(5).ToList(); // 5 disconnected
        var m3 = pex.TryBuild(remaining)!;
        Assert.Equal(20 - m3.Added.Count(a => connected.Take(5).Contains(a)), m3.Added.Count);
        Assert.Equal(connected.Take(5).Select(p => p.EndPoint).Intersect(m1.Added.Concat(m2.Added).Select(p => p.EndPoint)).Count(), m3.Dropped.Count);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(pex.TryBuild(remaining)); // nothing changed
    }
}
