using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker;

/// <summary>
/// Parses tracker query strings as bytes. <c>info_hash</c> and <c>peer_id</c> are arbitrary
/// binary, so values are percent-decoded into bytes and never passed through UTF-8 decoding,
/// which would corrupt them. Every failure is a message for a bencoded <c>failure reason</c>,
/// never an exception.
/// </summary>
public static class TrackerQuery
{
    /// <summary>Longest raw value accepted; anything a tracker needs fits (20 bytes escaped is 60 chars).</summary>
    private const int MaxValueChars = 256;

    public static bool TryParseAnnounce(ReadOnlySpan<char> query, out AnnounceRequest? request, out string? error)
    {
        request = null;
        error = null;
        InfoHash? infoHash = null;
        byte[]? peerId = null;
        int? port = null;
        long uploaded = 0, downloaded = 0, left = -1;
        int? numWant = null;
        var ev = AnnounceEvent.None;
        bool compact = false, noPeerId = false;
        IPAddress? ip = null;
        long? proofTime = null;
        byte[]? proofNonce = null, proof = null;
        Span<byte> buf = stackalloc byte[MaxValueChars];

        if (query.Length > 0 && query[0] == '?') query = query[1..];
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            if (pair.IsEmpty) continue;
            var eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            var raw = eq < 0 ? [] : pair[(eq + 1)..];
            if (raw.Length > MaxValueChars) { error = $"parameter '{Printable(key)}' too long"; return false; }
            if (!TryPercentDecode(raw, buf, out var n)) { error = $"malformed escape in '{Printable(key)}'"; return false; }
            var value = buf[..n];
            switch (key)
            {
                case "info_hash":
                    if (n != InfoHash.Size) { error = "info_hash must be 20 bytes"; return false; }
                    infoHash = new InfoHash(value);
                    break;
                case "peer_id":
                    if (n != 20) { error = "peer_id must be 20 bytes"; return false; }
                    peerId = value.ToArray();
                    break;
                case "port":
                    if (!TryParseLong(value, out var p) || p is < 1 or > 65535) { error = "invalid port"; return false; }
                    port = (int)p;
                    break;
                case "uploaded":
                    if (!TryParseLong(value, out uploaded) || uploaded < 0) { error = "invalid uploaded"; return false; }
                    break;
                case "downloaded":
                    if (!TryParseLong(value, out downloaded) || downloaded < 0) { error = "invalid downloaded"; return false; }
                    break;
                case "left":
                    if (!TryParseLong(value, out left) || left < 0) { error = "invalid left"; return false; }
                    break;
                case "numwant":
                    if (!TryParseLong(value, out var w)) { error = "invalid numwant"; return false; }
                    // Negative means "default" for several clients; huge values are clamped later.
                    numWant = w < 0 ? null : (int)Math.Min(w, int.MaxValue);
                    break;
                case "event":
                    if (!TryParseEvent(value, out ev)) { error = "invalid event"; return false; }
                    break;
                case "compact":
                    compact = value.SequenceEqual("1"u8);
                    break;
                case "no_peer_id":
                    noPeerId = value.SequenceEqual("1"u8);
                    break;
                case "ip":
                    // A hostname or garbage is ignored rather than failed: the source address still works.
                    if (value.Length <= 45 && IPAddress.TryParse(System.Text.Encoding.ASCII.GetString(value), out var parsed))
                        ip = Normalize(parsed);
                    break;
                case AnnounceProof.TimeParameter:
                    if (!TryParseLong(value, out var t)) { error = "invalid bs_time"; return false; }
                    proofTime = t;
                    break;
                case AnnounceProof.NonceParameter:
                    proofNonce = FromHex(value);
                    break;
                case AnnounceProof.ProofParameter:
                    proof = FromHex(value);
                    break;
                default:
                    break; // key, trackerid, corrupt, supportcrypto, ...: not needed on a LAN tracker
            }
        }

        if (infoHash is null) { error = "missing info_hash"; return false; }
        if (peerId is null) { error = "missing peer_id"; return false; }
        if (port is null) { error = "missing port"; return false; }
        request = new AnnounceRequest
        {
            InfoHash = infoHash.Value,
            PeerId = peerId,
            Port = port.Value,
            Uploaded = uploaded,
            Downloaded = downloaded,
            Left = left,
            Event = ev,
            NumWant = numWant,
            Compact = compact,
            NoPeerId = noPeerId,
            ClaimedIp = ip,
            ProofTime = proofTime,
            ProofNonce = Optional(proofNonce),
            Proof = Optional(proof),
        };
        return true;
    }

    /// <summary>Collects every <c>info_hash</c> of a scrape (BEP 48 allows several), at most <paramref name="max"/>.</summary>
    public static bool TryParseScrape(ReadOnlySpan<char> query, int max, out List<InfoHash> hashes, out string? error)
    {
        hashes = [];
        error = null;
        Span<byte> buf = stackalloc byte[MaxValueChars];
        if (query.Length > 0 && query[0] == '?') query = query[1..];
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            var eq = pair.IndexOf('=');
            if (eq < 0 || !pair[..eq].SequenceEqual("info_hash")) continue;
            var raw = pair[(eq + 1)..];
            if (raw.Length > MaxValueChars || !TryPercentDecode(raw, buf, out var n) || n != InfoHash.Size)
            {
                error = "info_hash must be 20 bytes";
                return false;
            }
            if (hashes.Count >= max) { error = $"at most {max} info_hash per scrape"; return false; }
            hashes.Add(new InfoHash(buf[..n]));
        }
        if (hashes.Count == 0) { error = "missing info_hash"; return false; }
        return true;
    }

    /// <summary>
    /// Percent-decodes into bytes. Unescaped characters must be single bytes (URLs are ASCII on
    /// the wire; Latin-1 is tolerated as some servers surface raw bytes that way); '+' stays '+'
    /// because BEP 3 clients escape a space as %20 and a literal '+' in binary data is common.
    /// </summary>
    internal static bool TryPercentDecode(ReadOnlySpan<char> s, Span<byte> dest, out int written)
    {
        written = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (written >= dest.Length) return false;
            var c = s[i];
            if (c == '%')
            {
                if (i + 2 >= s.Length) return false;
                var hi = HexValue(s[i + 1]);
                var lo = HexValue(s[i + 2]);
                if (hi < 0 || lo < 0) return false;
                dest[written++] = (byte)((hi << 4) | lo);
                i += 2;
            }
            else
            {
                if (c > 0xFF) return false;
                dest[written++] = (byte)c;
            }
        }
        return true;
    }

    /// <summary>
    /// Null stays null: a null byte[] converts (implicitly, user-defined) to an empty ReadOnlyMemory, and so does the
    /// null literal of <c>x is null ? null : x</c>, whose type is then ReadOnlyMemory, not its nullable.
    /// </summary>
    private static ReadOnlyMemory<byte>? Optional(byte[]? bytes) => bytes is null ? default(ReadOnlyMemory<byte>?) : bytes;

    /// <summary>Hex digits (either case) as bytes; empty for anything else, which no proof check accepts.</summary>
    private static byte[] FromHex(ReadOnlySpan<byte> hex)
    {
        if (hex.Length % 2 != 0) return [];
        var bytes = new byte[hex.Length / 2];
        for (var i = 0; i < bytes.Length; i++)
        {
            int hi = HexValue((char)hex[2 * i]), lo = HexValue((char)hex[2 * i + 1]);
            if (hi < 0 || lo < 0) return [];
            bytes[i] = (byte)((hi << 4) | lo);
        }
        return bytes;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>Plain decimal only: no sign games, no whitespace, no overflow.</summary>
    private static bool TryParseLong(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        var negative = s.Length > 0 && s[0] == '-';
        if (negative) s = s[1..];
        if (s.IsEmpty || s.Length > 19) return false;
        foreach (var b in s)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            value = value * 10 + (b - '0');
            if (value < 0) return false;
        }
        if (negative) value = -value;
        return true;
    }

    private static bool TryParseEvent(ReadOnlySpan<byte> s, out AnnounceEvent ev)
    {
        ev = AnnounceEvent.None;
        if (s.IsEmpty || s.SequenceEqual("empty"u8) || s.SequenceEqual("paused"u8)) return true;
        if (s.SequenceEqual("started"u8)) { ev = AnnounceEvent.Started; return true; }
        if (s.SequenceEqual("completed"u8)) { ev = AnnounceEvent.Completed; return true; }
        if (s.SequenceEqual("stopped"u8)) { ev = AnnounceEvent.Stopped; return true; }
        return false;
    }

    internal static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>Keys echoed in errors are truncated and stripped to printable ASCII.</summary>
    private static string Printable(ReadOnlySpan<char> key)
    {
        var s = key.Length > 32 ? key[..32] : key;
        return string.Create(s.Length, s.ToString(), static (dst, src) =>
        {
            for (var i = 0; i < src.Length; i++) dst[i] = src[i] is >= ' ' and < (char)127 ? src[i] : '?';
        });
    }
}
