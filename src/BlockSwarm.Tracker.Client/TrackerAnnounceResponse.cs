using System.Buffers.Binary;
using System.Net;
using BlockSwarm.Bencode;

namespace BlockSwarm.Tracker.Client;

/// <summary>A tracker's successful answer, as the announce client understands it.</summary>
public sealed class TrackerAnnounceResponse
{
    public TimeSpan Interval { get; init; }

    public TimeSpan? MinInterval { get; init; }

    public int? Complete { get; init; }

    public int? Incomplete { get; init; }

    public string? WarningMessage { get; init; }

    public ReadOnlyMemory<byte>? TrackerId { get; init; }

    public IReadOnlyList<IPEndPoint> Peers { get; init; } = [];

    /// <summary>
    /// Parses compact (BEP 23) or dictionary peers plus BEP 7 <c>peers6</c>. Throws
    /// <see cref="TrackerException"/> for a <c>failure reason</c> or a malformed answer.
    /// </summary>
    public static TrackerAnnounceResponse Parse(ReadOnlyMemory<byte> body)
    {
        BDictionary d;
        try
        {
            // Lenient: some trackers write keys out of order; nothing here is hashed.
            d = BencodeDecoder.DecodeDictionary(body, BencodeOptions.Lenient);
        }
        catch (BencodeException ex)
        {
            throw new TrackerException("tracker answer is not a bencoded dictionary: " + ex.Message, ex);
        }
        if (d.Get<BString>("failure reason") is { } failure)
            throw new TrackerException("tracker failure: " + failure.Text) { IsFailureReason = true };

        var peers = new List<IPEndPoint>();
        switch (d.Get<BValue>("peers"))
        {
            case BString s:
                ReadCompact(s.Span, 4, peers);
                break;
            case BList list:
                foreach (var item in list)
                {
                    if (item is BDictionary p && p.Get<BString>("ip") is { } ip && p.Get<BInteger>("port") is { } port
                        && port.Value is > 0 and <= 65535 && IPAddress.TryParse(ip.Text, out var addr))
                        peers.Add(new IPEndPoint(addr, (int)port.Value));
                }
                break;
        }
        if (d.Get<BString>("peers6") is { } p6) ReadCompact(p6.Span, 16, peers);

        var interval = d.Get<BInteger>("interval")?.Value ?? 1800;
        return new TrackerAnnounceResponse
        {
            Interval = TimeSpan.FromSeconds(Math.Clamp(interval, 1, 24 * 3600)),
            MinInterval = d.Get<BInteger>("min interval") is { } mi ? TimeSpan.FromSeconds(Math.Clamp(mi.Value, 0, 24 * 3600)) : null,
            Complete = d.Get<BInteger>("complete") is { } c ? (int)Math.Clamp(c.Value, 0, int.MaxValue) : null,
            Incomplete = d.Get<BInteger>("incomplete") is { } ic ? (int)Math.Clamp(ic.Value, 0, int.MaxValue) : null,
            WarningMessage = d.Get<BString>("warning message")?.Text,
            TrackerId = d.Get<BString>("tracker id")?.Bytes,
            Peers = peers,
        };
    }

    private static void ReadCompact(ReadOnlySpan<byte> s, int addressLength, List<IPEndPoint> peers)
    {
        var size = addressLength + 2;
        // A trailing partial record is ignored rather than failing the whole answer.
        for (var i = 0; i + size <= s.Length; i += size)
        {
            var port = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(i + addressLength, 2));
            if (port == 0) continue;
            peers.Add(new IPEndPoint(new IPAddress(s.Slice(i, addressLength)), port));
        }
    }
}
