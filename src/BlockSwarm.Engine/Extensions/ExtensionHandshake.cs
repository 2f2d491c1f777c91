using BlockSwarm.Bencode;

namespace BlockSwarm.Engine.Extensions;

/// <summary>
/// The BEP 10 extended handshake (extended message id 0): which extensions a peer speaks and
/// under which message ids, its listen port and client name. The base every later extension
/// (ut_pex now; compressed pieces, swarm key later) negotiates over.
/// </summary>
public sealed record ExtensionHandshake
{
    /// <summary>Our id for ut_pex messages sent to us.</summary>
    public const byte PexId = 1;

    /// <summary>Our id for <c>bs_zstd</c> messages (compressed runs) sent to us.</summary>
    public const byte ZstdId = 2;

    /// <summary>Our id for <c>bs_import</c> messages (<see cref="ImportMessage"/>) sent to us.</summary>
    public const byte ImportId = 3;

    /// <summary>Extension name → the id the sender wants to receive it under (0 = disabled).</summary>
    public IReadOnlyDictionary<string, byte> Messages { get; init; } = new Dictionary<string, byte>();

    /// <summary>The sender's listen port (lets us advertise an incoming peer in PEX).</summary>
    public int? ListenPort { get; init; }

    public string? Client { get; init; }

    /// <summary>Requests the sender queues per peer (BEP 10 <c>reqq</c>).</summary>
    public int? RequestQueue { get; init; }

    /// <summary>Handshake key of <see cref="MaxRequestLength"/> (a BlockSwarm extension; other clients ignore unknown keys).</summary>
    public const string MaxRequestLengthKey = "bs_reqlen";

    /// <summary>Smallest and largest <see cref="MaxRequestLength"/> a peer may announce.</summary>
    public const int MinRequestLength = 16 * 1024, MaxRequestLengthLimit = 1024 * 1024;

    /// <summary>
    /// The longest REQUEST the sender serves (and PIECE it accepts), when it announced more than the usual 16 KiB:
    /// two BlockSwarm peers then move a run of blocks in one message, a sixteenth of the per-message work at
    /// 256 KiB. Values outside [16 KiB, 1 MiB] or not a multiple of 16 KiB are ignored (the peer gets 16 KiB).
    /// </summary>
    public int? MaxRequestLength { get; init; }

    /// <summary>Whole 16 KiB blocks in [16 KiB, 1 MiB]: what a peer may announce and a session may be configured with.</summary>
    public static bool IsValidRequestLength(int length) =>
        length is >= MinRequestLength and <= MaxRequestLengthLimit && length % MinRequestLength == 0;

    public byte[] Encode()
    {
        var m = new BDictionary();
        foreach (var (name, id) in Messages) m[name] = new BInteger(id);
        var d = new BDictionary { ["m"] = m };
        if (ListenPort is { } p) d["p"] = new BInteger(p);
        if (Client is { } v) d["v"] = new BString(v);
        if (RequestQueue is { } q) d["reqq"] = new BInteger(q);
        if (MaxRequestLength is { } r) d[MaxRequestLengthKey] = new BInteger(r);
        return BencodeEncoder.Encode(d);
    }

    /// <summary>Parses a handshake; unknown keys are ignored (the BEP says so), wrong types are a protocol error.</summary>
    public static ExtensionHandshake Decode(ReadOnlyMemory<byte> payload)
    {
        // Other clients do not always sort keys; the strictness that matters here is bounds, not order.
        var d = BencodeDecoder.Decode(payload, BencodeOptions.Lenient with { MaxDepth = 8, MaxStringLength = 64 * 1024 }) as BDictionary
            ?? throw new BencodeException("extended handshake is not a dictionary", 0);
        var messages = new Dictionary<string, byte>(StringComparer.Ordinal);
        if (d.Get<BDictionary>("m") is { } m)
        {
            foreach (var (k, v) in m)
            {
                if (v is BInteger i && i.Value is >= 0 and <= 255) messages[k.Text] = (byte)i.Value;
            }
        }
        int? port = d.Get<BInteger>("p") is { Value: > 0 and <= 65535 } p ? (int)p.Value : null;
        int? reqq = d.Get<BInteger>("reqq") is { Value: > 0 and <= 1 << 20 } q ? (int)q.Value : null;
        int? reqlen = d.Get<BInteger>(MaxRequestLengthKey) is { Value: >= 0 and <= int.MaxValue } r && IsValidRequestLength((int)r.Value) ? (int)r.Value : null;
        return new ExtensionHandshake
        {
            Messages = messages, ListenPort = port, Client = d.Get<BString>("v")?.Text, RequestQueue = reqq, MaxRequestLength = reqlen,
        };
    }

    /// <summary>The id to send <paramref name="name"/> under, or 0 when the peer does not speak it.</summary>
    public byte IdOf(string name) => Messages.TryGetValue(name, out var id) ? id : (byte)0;
}
