using System.Buffers.Binary;
using System.Security.Cryptography;

namespace BlockSwarm.Security;

/// <summary>
/// The swarm-secret handshake that opens every peer connection of a secret swarm, before any BitTorrent byte:
/// <code>
///   initiator → responder   "BS-SECv2" ‖ Ni (32 random bytes) ‖ offered (1 byte: a bit per cipher suite it runs)
///   responder → initiator   "BS-SECv2" ‖ Nr (32 random bytes) ‖ chosen (1 byte: a suite id) ‖ HMAC(K_resp, T)
///   initiator → responder   HMAC(K_init, T), then encrypted records
///   where T = "BS-SECv2" ‖ Ni ‖ offered ‖ Nr ‖ chosen
/// </code>
/// K_resp and K_init are keys the secret derives for the two roles (<see cref="SwarmSecret.Proof"/>): a proof made in
/// one role is no use in the other (reflection), and each covers both sides' fresh nonces, so a recorded handshake
/// fails against any new one (replay). The responder says nothing until the initiator sent the magic, and what it
/// says proves its secret without revealing it; the initiator sends nothing but the magic, its nonce and its offer before
/// the responder proved the secret. The responder picks the first of its own suites (<see cref="RecordCipher.Supported"/>:
/// AES-128-OCB where the system's libcrypto has it, else AES-256-GCM) that the initiator offered; the offer and the
/// choice are inside T, so no one without the secret can steer the two to another suite. Both directions then get
/// their own key, HKDF-derived from the secret and T (<see cref="SecureChannelStream"/>), so the BitTorrent handshake,
/// the info-hash, the bitfield and every block travel encrypted and authenticated. A standard BitTorrent client's first
/// bytes are its handshake (<c>0x13 "BitTorrent protocol"</c>), an older BlockSwarm's are "BS-SECv1": the responder
/// recognises both and names them in the refusal.
/// </summary>
public static class SecureChannel
{
    public const int NonceLength = 32;
    public const int ProofLength = 32;
    public static ReadOnlySpan<byte> Magic => "BS-SECv2"u8;
    internal const int InitiatorHelloLength = 8 + NonceLength + 1;
    internal const int ResponderHelloLength = 8 + NonceLength + 1 + ProofLength;
    /// <summary>
    /// The cipher suites this process offers and accepts, best first (<see cref="RecordCipher.Supported"/>); throws a
    /// <see cref="SecretException"/> when <c>BLOCKSWARM_SECRET_CIPHERS</c> names one it cannot run.
    /// </summary>
    public static IReadOnlyList<CipherSuite> Suites => RecordCipher.Supported;

    internal const string InitiatorProofPurpose = "channel initiator";
    internal const string ResponderProofPurpose = "channel responder";
    internal const string InitiatorKeyLabel = "BlockSwarm channel key initiator to responder";
    internal const string ResponderKeyLabel = "BlockSwarm channel key responder to initiator";

    /// <summary>
    /// Opens the channel as the side that dialled: sends our hello, checks the responder's proof, sends ours.
    /// Throws <see cref="SecureChannelException"/> (wrong secret, not a secret peer, closed) or the stream's exception.
    /// The returned stream owns <paramref name="inner"/>.
    /// </summary>
    public static Task<SecureChannelStream> ConnectAsync(Stream inner, SwarmSecret secret, CancellationToken cancellationToken) =>
        ConnectAsync(inner, secret, RandomNumberGenerator.GetBytes(NonceLength), RecordCipher.Supported, cancellationToken);

    /// <summary>
    /// With a given nonce and offer: for fuzzing and tests only (a fixed nonce would let a recorded handshake replay).
    /// </summary>
    internal static async Task<SecureChannelStream> ConnectAsync(Stream inner, SwarmSecret secret, byte[] nonce, IReadOnlyList<CipherSuite> offer,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(offer);
        if (nonce is not { Length: NonceLength }) throw new ArgumentException($"a nonce is {NonceLength} bytes", nameof(nonce));
        byte[] ni = nonce;
        byte[] hello = new byte[InitiatorHelloLength];
        Magic.CopyTo(hello);
        ni.CopyTo(hello, 8);
        byte offered = MaskOf(offer);
        hello[8 + NonceLength] = offered;
        await inner.WriteAsync(hello, cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);

        byte[] answer = new byte[ResponderHelloLength];
        // The magic first: a peer that answers something else is given up at once, not after the handshake timeout.
        int got = await ReadFullyAsync(inner, answer.AsMemory(0, Magic.Length), cancellationToken).ConfigureAwait(false);
        if (got == 0)
            throw new SecureChannelException(SecureChannelFailure.Closed, "the peer hung up on the secret handshake: it does not run a secret swarm, or not ours");
        if (got < Magic.Length || !answer.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new SecureChannelException(SecureChannelFailure.NotSecretPeer, $"the peer answered {Describe(answer.AsSpan(0, got))} instead of the secret handshake: not a BlockSwarm peer of a secret swarm");
        got += await ReadFullyAsync(inner, answer.AsMemory(Magic.Length), cancellationToken).ConfigureAwait(false);
        if (got < answer.Length)
            throw new SecureChannelException(SecureChannelFailure.Closed, $"the peer hung up after {got} of the {answer.Length} bytes of the secret handshake");
        // The version magic, the offer and the choice are part of everything the secret proves or keys: nothing can be
        // downgraded without the secret.
        var chosen = (CipherSuite)answer[8 + NonceLength];
        byte[] transcript = [.. Magic, .. ni, offered, .. answer.AsSpan(8, NonceLength + 1)];
        if (!secret.Verify(ResponderProofPurpose, transcript, answer.AsSpan(8 + NonceLength + 1)))
            throw new SecureChannelException(SecureChannelFailure.WrongSecret, $"the peer does not prove our swarm secret {secret.Id}: it has a different secret");
        if ((offered & MaskOf(chosen)) == 0)
            throw new SecureChannelException(SecureChannelFailure.NoCommonCipher, $"the peer chose cipher suite {(byte)chosen}, which we did not offer");
        byte[] proof = secret.Proof(InitiatorProofPurpose, transcript);
        await inner.WriteAsync(proof, cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        int keyLength = RecordCipher.KeyLength(chosen);
        return new SecureChannelStream(inner, chosen,
            sendKey: secret.Derive(InitiatorKeyLabel, transcript, keyLength),
            receiveKey: secret.Derive(ResponderKeyLabel, transcript, keyLength));
    }

    /// <summary>
    /// Opens the channel as the side that accepted: reads the initiator's hello, answers with our nonce and proof, and
    /// checks the initiator's proof. Nothing is sent to a peer whose first bytes are not the secret handshake's magic.
    /// </summary>
    public static Task<SecureChannelStream> AcceptAsync(Stream inner, SwarmSecret secret, CancellationToken cancellationToken) =>
        AcceptAsync(inner, secret, RandomNumberGenerator.GetBytes(NonceLength), RecordCipher.Supported, cancellationToken);

    /// <summary>
    /// With a given nonce and suites (ours, best first): for fuzzing and tests only (a fixed nonce would let a recorded
    /// handshake replay).
    /// </summary>
    internal static async Task<SecureChannelStream> AcceptAsync(Stream inner, SwarmSecret secret, byte[] nonce, IReadOnlyList<CipherSuite> ours,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(ours);
        if (nonce is not { Length: NonceLength }) throw new ArgumentException($"a nonce is {NonceLength} bytes", nameof(nonce));
        byte[] hello = new byte[InitiatorHelloLength];
        // The magic alone first: a client that sent something else (a 68-byte BitTorrent handshake, or less) is told
        // off at once instead of after the handshake timeout.
        int got = await ReadFullyAsync(inner, hello.AsMemory(0, Magic.Length), cancellationToken).ConfigureAwait(false);
        if (got == 0) throw new SecureChannelException(SecureChannelFailure.Closed, "the peer hung up before the secret handshake");
        if (got < Magic.Length || !hello.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new SecureChannelException(SecureChannelFailure.NotSecretPeer, $"the peer sent {Describe(hello.AsSpan(0, got))}: this swarm needs the BlockSwarm swarm secret, which standard BitTorrent clients cannot give");
        got += await ReadFullyAsync(inner, hello.AsMemory(Magic.Length), cancellationToken).ConfigureAwait(false);
        if (got < hello.Length)
            throw new SecureChannelException(SecureChannelFailure.Closed, $"the peer hung up after {got} of the {hello.Length} bytes of the secret handshake");
        byte offered = hello[8 + NonceLength];
        CipherSuite? common = null;
        foreach (var suite in ours)
        {
            if ((offered & MaskOf(suite)) == 0) continue;
            common = suite;
            break;
        }
        if (common is not { } chosen)
            throw new SecureChannelException(SecureChannelFailure.NoCommonCipher, $"the peer offers no cipher suite we run (offer 0x{offered:x2}; ours: {string.Join(", ", ours)})");
        byte[] nr = nonce;
        byte[] transcript = [.. Magic, .. hello.AsSpan(8, NonceLength), offered, .. nr, (byte)chosen];
        byte[] answer = [.. Magic, .. nr, (byte)chosen, .. secret.Proof(ResponderProofPurpose, transcript)];
        await inner.WriteAsync(answer, cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);

        byte[] proof = new byte[ProofLength];
        got = await ReadFullyAsync(inner, proof, cancellationToken).ConfigureAwait(false);
        if (got < proof.Length)
            throw new SecureChannelException(SecureChannelFailure.WrongSecret, got == 0
                ? $"the peer hung up instead of proving the swarm secret: it has a different secret than {secret.Id}"
                : $"the peer hung up after {got} of the {proof.Length} bytes of its proof");
        if (!secret.Verify(InitiatorProofPurpose, transcript, proof))
            throw new SecureChannelException(SecureChannelFailure.WrongSecret, $"the peer's proof of the swarm secret is wrong: it has a different secret than {secret.Id}, or replays a recorded handshake");
        int keyLength = RecordCipher.KeyLength(chosen);
        return new SecureChannelStream(inner, chosen,
            sendKey: secret.Derive(ResponderKeyLabel, transcript, keyLength),
            receiveKey: secret.Derive(InitiatorKeyLabel, transcript, keyLength));
    }

    /// <summary>The offer byte for <paramref name="suites"/>: bit (id − 1) per suite.</summary>
    internal static byte MaskOf(IEnumerable<CipherSuite> suites)
    {
        byte mask = 0;
        foreach (var suite in suites) mask |= MaskOf(suite);
        return mask;
    }

    private static byte MaskOf(CipherSuite suite) => (byte)suite is >= 1 and <= 8 ? (byte)(1 << ((byte)suite - 1)) : (byte)0;

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    private static async ValueTask<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static string Describe(ReadOnlySpan<byte> first)
    {
        if (first.StartsWith("BS-SECv1"u8)) return "the secret handshake of an older BlockSwarm (v1; this one speaks v2): run the same BlockSwarm version on every machine";
        if (first.Length >= 8 && first[0] == 19 && "BitTorrent protocol"u8.StartsWith(first[1..Math.Min(first.Length, 20)]))
            return "a plain BitTorrent handshake";
        return first.Length == 0 ? "nothing" : $"{first.Length} other bytes ({Convert.ToHexStringLower(first[..Math.Min(first.Length, 8)])}…)";
    }

    internal static void WriteNonce(Span<byte> nonce, ulong counter)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
    }
}

/// <summary>Why a secret handshake or channel failed.</summary>
public enum SecureChannelFailure
{
    /// <summary>The peer hung up, or sent fewer bytes than the handshake needs.</summary>
    Closed,

    /// <summary>The peer does not speak the secret handshake (a standard BitTorrent client, or a BlockSwarm without a secret).</summary>
    NotSecretPeer,

    /// <summary>The peer's proof did not verify: a different secret, or a replayed or reflected handshake.</summary>
    WrongSecret,

    /// <summary>An encrypted record failed authentication or was malformed (tampered with, or not from the peer).</summary>
    BadRecord,

    /// <summary>The two sides share no cipher suite (an offer with none we run, or a choice we did not offer).</summary>
    NoCommonCipher,
}

/// <summary>A secret handshake or encrypted record the peer got wrong; the connection is over.</summary>
public sealed class SecureChannelException : IOException
{
    public SecureChannelException(SecureChannelFailure failure, string message) : base(message) => Failure = failure;
    public SecureChannelException(SecureChannelFailure failure, string message, Exception inner) : base(message, inner) => Failure = failure;

    public SecureChannelFailure Failure { get; }
}
