using System.Buffers.Binary;
using BlockSwarm.Security;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// The proof of the swarm secret an HTTP announce carries to a tracker that has one (BlockSwarm's, with
/// <c>--secret-file</c>): three query parameters added to BEP 3's,
/// <c>bs_time=UNIX-SECONDS&amp;bs_nonce=16 HEX&amp;bs_proof=64 HEX</c>, where the proof is
/// <see cref="SwarmSecret.Proof"/> (HMAC-SHA-256 under the secret's key for <see cref="Purpose"/>) of the fixed binary
/// message <see cref="Message"/> builds from <see cref="AnnounceProofFields"/>. The message holds every parameter that
/// changes what the tracker does for the announcer — info_hash, peer_id, port, event, left, uploaded, downloaded,
/// numwant, compact, no_peer_id, ip — as the tracker parses them, so changing any of them (or repeating one with
/// another value) breaks the proof; parameters the tracker ignores (key, trackerid, supportcrypto) are not covered.
/// The tracker accepts a proof whose time is within <see cref="DefaultWindow"/> of its clock and only once.
/// Standard clients cannot make one: a secret swarm's tracker refuses them with <see cref="Refusal"/>.
/// </summary>
public static class AnnounceProof
{
    public const string TimeParameter = "bs_time";
    public const string NonceParameter = "bs_nonce";
    public const string ProofParameter = "bs_proof";

    /// <summary>The proof key's label (<see cref="SwarmSecret.Proof"/>): no other use of the secret shares the key.</summary>
    public const string Purpose = "tracker announce v1";

    public const int NonceLength = 8;

    public const int ProofLength = 32;

    /// <summary>How far a proof's time may be from the tracker's clock, either way.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(5);

    /// <summary>The <c>failure reason</c> of every refused announce or scrape of a secret swarm (a detail follows it).</summary>
    public const string Refusal = "this swarm needs the BlockSwarm swarm secret; standard BitTorrent clients cannot join it";

    /// <summary>Longest message: the fixed fields and an IPv6 <c>ip=</c>.</summary>
    public const int MaxMessageLength = FixedLength + 16;

    private const int FixedLength = 20 + 20 + 2 + 1 + 8 + 8 + 8 + 4 + 1 + 8 + NonceLength + 1;

    /// <summary>
    /// The message the proof is the HMAC of, big-endian: info_hash (20), peer_id (20), port (2), event (1: 0 none,
    /// 1 completed, 2 started, 3 stopped, BEP 15's numbers), left (8, -1 when not sent), uploaded (8), downloaded (8),
    /// numwant (4, -1 when not sent), flags (1: 1 compact, 2 no_peer_id), bs_time (8), bs_nonce (8), the ip= address's
    /// length (1: 0, 4 or 16) and bytes. Returns its length in <paramref name="destination"/> (≥ <see cref="MaxMessageLength"/>).
    /// </summary>
    public static int Message(in AnnounceProofFields fields, Span<byte> destination)
    {
        if (fields.PeerId.Length != 20) throw new ArgumentException("a peer id is 20 bytes", nameof(fields));
        if (fields.Nonce.Length != NonceLength) throw new ArgumentException($"a proof nonce is {NonceLength} bytes", nameof(fields));
        var d = destination[..MaxMessageLength];
        fields.InfoHash.Span.CopyTo(d);
        fields.PeerId.Span.CopyTo(d[20..]);
        BinaryPrimitives.WriteUInt16BigEndian(d[40..], (ushort)fields.Port);
        d[42] = fields.Event switch
        {
            AnnounceEvent.Completed => 1,
            AnnounceEvent.Started => 2,
            AnnounceEvent.Stopped => 3,
            _ => 0,
        };
        BinaryPrimitives.WriteInt64BigEndian(d[43..], fields.Left);
        BinaryPrimitives.WriteInt64BigEndian(d[51..], fields.Uploaded);
        BinaryPrimitives.WriteInt64BigEndian(d[59..], fields.Downloaded);
        BinaryPrimitives.WriteInt32BigEndian(d[67..], fields.NumWant < 0 ? -1 : fields.NumWant);
        d[71] = (byte)((fields.Compact ? 1 : 0) | (fields.NoPeerId ? 2 : 0));
        BinaryPrimitives.WriteInt64BigEndian(d[72..], fields.Time);
        fields.Nonce.Span.CopyTo(d[80..]);
        int n = FixedLength;
        if (fields.Ip is { } ip)
        {
            var address = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
            if (!address.TryWriteBytes(d[n..], out int written)) throw new ArgumentException("not an IP address", nameof(fields));
            d[n - 1] = (byte)written;
            n += written;
        }
        else
        {
            d[n - 1] = 0;
        }
        return n;
    }

    /// <summary>The 32-byte proof of <paramref name="fields"/> under <paramref name="secret"/>.</summary>
    public static byte[] Compute(SwarmSecret secret, in AnnounceProofFields fields)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Span<byte> message = stackalloc byte[MaxMessageLength];
        int n = Message(fields, message);
        return secret.Proof(Purpose, message[..n]);
    }

    /// <summary>Whether <paramref name="proof"/> is the proof of <paramref name="fields"/> (constant-time compare).</summary>
    public static bool Verify(SwarmSecret secret, in AnnounceProofFields fields, ReadOnlySpan<byte> proof)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Span<byte> message = stackalloc byte[MaxMessageLength];
        int n = Message(fields, message);
        return secret.Verify(Purpose, message[..n], proof);
    }

    /// <summary>The fields of the announce <see cref="TrackerClient"/> sends for <paramref name="p"/> (compact=1, numwant and left always sent).</summary>
    public static AnnounceProofFields FieldsOf(AnnounceParameters p, long unixSeconds, ReadOnlyMemory<byte> nonce)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new AnnounceProofFields
        {
            InfoHash = p.InfoHash,
            PeerId = p.PeerId,
            Port = p.Port,
            Event = p.Event,
            Left = p.Left,
            Uploaded = p.Uploaded,
            Downloaded = p.Downloaded,
            NumWant = p.NumWant,
            Compact = true,
            NoPeerId = false,
            Ip = p.Ip,
            Time = unixSeconds,
            Nonce = nonce,
        };
    }

    /// <summary>The query parameters (without a leading '&amp;') that prove <paramref name="fields"/>.</summary>
    public static string QueryOf(SwarmSecret secret, in AnnounceProofFields fields) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{TimeParameter}={fields.Time}&{NonceParameter}={Convert.ToHexStringLower(fields.Nonce.Span)}&{ProofParameter}={Convert.ToHexStringLower(Compute(secret, fields))}");

    /// <summary>True for the URL schemes that can carry a proof: HTTP(S). A UDP tracker (BEP 15) has no field for it.</summary>
    public static bool CanCarry(Uri tracker)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        return tracker.Scheme is "http" or "https";
    }
}
