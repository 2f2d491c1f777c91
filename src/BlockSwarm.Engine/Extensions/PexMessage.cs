using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BlockSwarm.Bencode;

namespace BlockSwarm.Engine.Extensions;

/// <summary>
/// The BEP 11 <c>ut_pex</c> payload (the bencoded dictionary inside a BEP 10 extended message;
/// the extended-message framing and id are the engine's). Decoding is defensive: lengths are
/// checked before anything is allocated and oversized lists are refused.
/// </summary>
public sealed class PexMessage
{
    /// <summary>The name in the BEP 10 handshake's <c>m</c> dictionary.</summary>
    public const string ExtensionName = "ut_pex";

    /// <summary>BEP 11: at most 50 added (and 50 dropped) entries per message.</summary>
    public const int MaxPeersPerList = 50;

    /// <summary>BEP 11: at most one message per minute per connection.</summary>
    public static readonly TimeSpan MinMessageInterval = TimeSpan.FromMinutes(1);

    /// <summary>Largest payload accepted: 4 lists × 50 × 18 bytes plus flags and keys, with slack.</summary>
    public const int MaxPayloadBytes = 8 * 1024;

    public List<PexPeer> Added { get; } = [];

    public List<IPEndPoint> Dropped { get; } = [];

    public bool IsEmpty => Added.Count == 0 && Dropped.Count == 0;

    public byte[] Encode()
    {
        if (Added.Count > 2 * MaxPeersPerList || Dropped.Count > 2 * MaxPeersPerList)
            throw new InvalidOperationException($"at most {MaxPeersPerList} added and dropped peers per family");
        var v4 = Added.Where(p => p.EndPoint.AddressFamily == AddressFamily.InterNetwork).ToList();
        var v6 = Added.Where(p => p.EndPoint.AddressFamily == AddressFamily.InterNetworkV6).ToList();
        var d = new BDictionary
        {
            ["added"] = new BString(Compact(v4.Select(p => p.EndPoint), 4)),
            ["added.f"] = new BString(v4.Select(p => (byte)p.Flags).ToArray()),
            ["added6"] = new BString(Compact(v6.Select(p => p.EndPoint), 16)),
            ["added6.f"] = new BString(v6.Select(p => (byte)p.Flags).ToArray()),
            ["dropped"] = new BString(Compact(Dropped.Where(e => e.AddressFamily == AddressFamily.InterNetwork), 4)),
            ["dropped6"] = new BString(Compact(Dropped.Where(e => e.AddressFamily == AddressFamily.InterNetworkV6), 16)),
        };
        return BencodeEncoder.Encode(d);
    }

    /// <summary>Parses a payload; throws <see cref="BencodeException"/> for anything malformed.</summary>
    public static PexMessage Decode(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length > MaxPayloadBytes) throw new BencodeException($"ut_pex payload of {payload.Length} bytes exceeds {MaxPayloadBytes}", 0);
        // Lenient: clients differ in key order; nothing is hashed.
        var d = BencodeDecoder.DecodeDictionary(payload, BencodeOptions.Lenient with { MaxDepth = 4 });
        var m = new PexMessage();
        ReadAdded(d, "added", "added.f", 4, m.Added);
        ReadAdded(d, "added6", "added6.f", 16, m.Added);
        ReadDropped(d, "dropped", 4, m.Dropped);
        ReadDropped(d, "dropped6", 16, m.Dropped);
        return m;
    }

    private static void ReadAdded(BDictionary d, string key, string flagsKey, int addrLen, List<PexPeer> output)
    {
        if (d.Get<BString>(key) is not { } s) return;
        var flagsValue = d.Get<BString>(flagsKey);
        var flags = flagsValue is null ? [] : flagsValue.Span;
        var i = 0;
        foreach (var ep in ReadCompact(s.Span, addrLen, key))
        {
            // Missing or short flags are tolerated (older clients omit them).
            output.Add(new PexPeer(ep, i < flags.Length ? (PexFlags)flags[i] : PexFlags.None));
            i++;
        }
    }

    private static void ReadDropped(BDictionary d, string key, int addrLen, List<IPEndPoint> output)
    {
        if (d.Get<BString>(key) is { } s) output.AddRange(ReadCompact(s.Span, addrLen, key));
    }

    private static List<IPEndPoint> ReadCompact(ReadOnlySpan<byte> s, int addrLen, string key)
    {
        var size = addrLen + 2;
        if (s.Length % size != 0) throw new BencodeException($"ut_pex '{key}' length {s.Length} is not a multiple of {size}", 0);
        // Peers may send more than 50; accept up to twice that, refuse floods.
        if (s.Length / size > 2 * MaxPeersPerList) throw new BencodeException($"ut_pex '{key}' lists {s.Length / size} peers", 0);
        var list = new List<IPEndPoint>(s.Length / size);
        for (var i = 0; i < s.Length; i += size)
        {
            var port = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(i + addrLen, 2));
            if (port == 0) continue; // unusable; skip rather than fail the message
            list.Add(new IPEndPoint(new IPAddress(s.Slice(i, addrLen)), port));
        }
        return list;
    }

    private static byte[] Compact(IEnumerable<IPEndPoint> eps, int addrLen)
    {
        var list = eps.ToList();
        var buf = new byte[list.Count * (addrLen + 2)];
        for (var i = 0; i < list.Count; i++)
        {
            var o = i * (addrLen + 2);
            list[i].Address.TryWriteBytes(buf.AsSpan(o, addrLen), out _);
            BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(o + addrLen), (ushort)list[i].Port);
        }
        return buf;
    }
}
