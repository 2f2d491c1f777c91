using System.Buffers;
using System.Net;
using BlockSwarm.Bencode;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker.Tests;

internal static class TestQueries
{
    public static InfoHash Hash(byte seed) => new(Enumerable.Repeat(seed, 20).Select((b, i) => (byte)(b + i)).ToArray());

    public static byte[] PeerId(int n)
    {
        var id = "-BS0001-000000000000"u8.ToArray();
        System.Text.Encoding.ASCII.GetBytes(n.ToString("D12", System.Globalization.CultureInfo.InvariantCulture)).CopyTo(id, 8);
        return id;
    }

    public static string Escape(ReadOnlySpan<byte> b) => string.Concat(b.ToArray().Select(x => $"%{x:X2}"));

    public static string Announce(InfoHash h, int peer, int port, long left = 100, string? ev = null, int? numwant = null, bool compact = true, string? ip = null) =>
        $"?info_hash={h.ToUrlEncoded()}&peer_id={Escape(PeerId(peer))}&port={port}&uploaded=0&downloaded=0&left={left}"
        + (ev != null ? $"&event={ev}" : "") + (numwant != null ? $"&numwant={numwant}" : "") + (compact ? "&compact=1" : "")
        + (ip != null ? $"&ip={ip}" : "");

    public static BDictionary Run(Tracker t, string query, IPAddress? source = null)
    {
        var w = new ArrayBufferWriter<byte>();
        t.HandleAnnounce(query, source ?? IPAddress.Parse("10.0.0.1"), w);
        return BencodeDecoder.DecodeDictionary(w.WrittenMemory);
    }

    public static List<IPEndPoint> CompactPeers(BDictionary d)
    {
        var list = new List<IPEndPoint>();
        var s = d.Require<BString>("peers").Span;
        for (var i = 0; i + 6 <= s.Length; i += 6)
            list.Add(new IPEndPoint(new IPAddress(s.Slice(i, 4)), (s[i + 4] << 8) | s[i + 5]));
        if (d.Get<BString>("peers6") is { } p6)
        {
            var s6 = p6.Span;
            for (var i = 0; i + 18 <= s6.Length; i += 18)
                list.Add(new IPEndPoint(new IPAddress(s6.Slice(i, 16)), (s6[i + 16] << 8) | s6[i + 17]));
        }
        return list;
    }
}
