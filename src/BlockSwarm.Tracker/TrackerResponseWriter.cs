using System.Buffers;
using System.Text;
using BlockSwarm.Bencode;

namespace BlockSwarm.Tracker;

/// <summary>
/// Writes tracker answers straight into a buffer (no BValue tree on the hot path). Keys are
/// written in raw-byte order so the output is canonical bencode.
/// </summary>
internal static class TrackerResponseWriter
{
    public static void WriteFailure(string reason, IBufferWriter<byte> w)
    {
        Byte(w, 'd');
        Str(w, "failure reason"u8);
        Str(w, Encoding.UTF8.GetBytes(reason));
        Byte(w, 'e');
    }

    public static void WriteAnnounce(AnnounceResult r, bool compact, bool noPeerId, IBufferWriter<byte> w)
    {
        if (r.FailureReason != null)
        {
            WriteFailure(r.FailureReason, w);
            return;
        }
        Byte(w, 'd');
        Str(w, "complete"u8); BencodeEncoder.WriteInteger(r.Complete, w);
        Str(w, "downloaded"u8); BencodeEncoder.WriteInteger(r.Downloaded, w);
        Str(w, "incomplete"u8); BencodeEncoder.WriteInteger(r.Incomplete, w);
        Str(w, "interval"u8); BencodeEncoder.WriteInteger((long)r.Interval.TotalSeconds, w);
        Str(w, "min interval"u8); BencodeEncoder.WriteInteger((long)r.MinInterval.TotalSeconds, w);
        Str(w, "peers"u8);
        if (compact)
        {
            // BEP 23: IPv4 peers as 6-byte records; BEP 7: IPv6 as 18-byte records in peers6.
            int v4 = 0, v6 = 0;
            foreach (var p in r.Peers) if (p.IsIPv6) v6++; else v4++;
            WriteCompact(w, r.Peers, v4, ipv6: false);
            if (v6 > 0)
            {
                Str(w, "peers6"u8);
                WriteCompact(w, r.Peers, v6, ipv6: true);
            }
        }
        else
        {
            Byte(w, 'l');
            foreach (var p in r.Peers)
            {
                Byte(w, 'd');
                Str(w, "ip"u8); Str(w, Encoding.ASCII.GetBytes(p.EndPoint.Address.ToString()));
                if (!noPeerId) { Str(w, "peer id"u8); Str(w, p.PeerId.Span); }
                Str(w, "port"u8); BencodeEncoder.WriteInteger(p.EndPoint.Port, w);
                Byte(w, 'e');
            }
            Byte(w, 'e');
        }
        Byte(w, 'e');
    }

    private static void WriteCompact(IBufferWriter<byte> w, IReadOnlyList<SwarmPeer> peers, int count, bool ipv6)
    {
        var size = ipv6 ? 18 : 6;
        var header = w.GetSpan(12);
        System.Buffers.Text.Utf8Formatter.TryFormat(count * size, header, out var n);
        header[n++] = (byte)':';
        w.Advance(n);
        foreach (var p in peers)
            if (p.IsIPv6 == ipv6) w.Write(p.Compact);
    }

    public static void WriteScrape(IReadOnlyList<ScrapeEntry> entries, IBufferWriter<byte> w)
    {
        // Keys of "files" are raw info-hashes and must be in byte order.
        var sorted = entries.OrderBy(e => e.InfoHash.ToHex(), StringComparer.Ordinal);
        Byte(w, 'd');
        Str(w, "files"u8);
        Byte(w, 'd');
        var seen = new HashSet<Metainfo.InfoHash>();
        foreach (var e in sorted)
        {
            if (!seen.Add(e.InfoHash)) continue; // duplicate keys are invalid bencode
            Str(w, e.InfoHash.Span);
            Byte(w, 'd');
            Str(w, "complete"u8); BencodeEncoder.WriteInteger(e.Complete, w);
            Str(w, "downloaded"u8); BencodeEncoder.WriteInteger(e.Downloaded, w);
            Str(w, "incomplete"u8); BencodeEncoder.WriteInteger(e.Incomplete, w);
            Byte(w, 'e');
        }
        Byte(w, 'e');
        Byte(w, 'e');
    }

    private static void Byte(IBufferWriter<byte> w, char c)
    {
        w.GetSpan(1)[0] = (byte)c;
        w.Advance(1);
    }

    private static void Str(IBufferWriter<byte> w, ReadOnlySpan<byte> s) => BencodeEncoder.WriteString(s, w);
}
