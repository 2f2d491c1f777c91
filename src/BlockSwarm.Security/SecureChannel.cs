using System.Buffers.Binary;
using System.Security.Cryptography;

namespace BlockSwarm.Security;

/// <summary>
/// The swarm-secret handshake that opens every peer connection of a secret swarm, before any BitTorrent byte:
/// <code>
///   initiator → responder   "BS-SECv1" ‖ Ni (32 random bytes)
///   responder → initiator   "BS-SECv1" ‖ Nr (32 random bytes) ‖ HMAC(K_resp, "BS-SECv1" ‖ Ni ‖ Nr)
///   initiator → responder   HMAC(K_init, "BS-SECv1" ‖ Ni ‖ Nr), then encrypted records
/// </code>
/// K_resp and K_init are keys the secret derives for the two roles (<see cref="SwarmSecret.Proof"/>): a proof made in
/// one role is no use in the other (reflection), and each covers both sides' fresh nonces, so a recorded handshake
/// fails against any new one (replay). The responder says nothing until the initiator sent the magic, and what it
/// says proves its secret without revealing it; the initiator sends nothing but the magic and its nonce before the
/// responder proved the secret. Both directions then get their own AES-256-GCM key, HKDF-derived from the secret and
/// both nonces (<see cref="SecureChannelStream"/>), so the BitTorrent handshake, the info-hash, the bitfield and every
/// block travel encrypted and authenticated. A standard BitTorrent client's first bytes are its handshake
/// (<c>0x13 "BitTorrent protocol"</c>): the responder recognises it and names it in the refusal.
/// </summary>
public static class SecureChannel
{
    public const int NonceLength = 32;
    public const int ProofLength = 32;
    public static ReadOnlySpan<byte> Magic => "BS-SECv1"u8;
    internal const int InitiatorHelloLength = 8 + NonceLength;
    internal const int ResponderHelloLength = 8 + NonceLength + ProofLength;
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
        ConnectAsync(inner, secret, RandomNumberGenerator.GetBytes(NonceLength), cancellationToken);

    /// <summary>With a given nonce: for fuzzing and tests only (a fixed nonce would let a recorded handshake replay).</summary>
    internal static async Task<SecureChannelStream> ConnectAsync(Stream inner, SwarmSecret secret, byte[] nonce, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(secret);
        if (nonce is not { Length: NonceLength }) throw new ArgumentException($"a nonce is {NonceLength} bytes", nameof(nonce));
        byte[] ni = nonce;
        byte[] hello = new byte[InitiatorHelloLength];
        Magic.CopyTo(hello);
        ni.CopyTo(hello, 8);
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
        // The version magic is part of everything the secret proves or keys: a later version cannot be downgraded to this one.
        byte[] transcript = [.. Magic, .. ni, .. answer.AsSpan(8, NonceLength)];
        if (!secret.Verify(ResponderProofPurpose, transcript, answer.AsSpan(8 + NonceLength)))
            throw new SecureChannelException(SecureChannelFailure.WrongSecret, $"the peer does not prove our swarm secret {secret.Id}: it has a different secret");
        byte[] proof = secret.Proof(InitiatorProofPurpose, transcript);
        await inner.WriteAsync(proof, cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new SecureChannelStream(inner,
            sendKey: secret.Derive(InitiatorKeyLabel, transcript, 32),
            receiveKey: secret.Derive(ResponderKeyLabel, transcript, 32));
    }

    /// <summary>
    /// Opens the channel as the side that accepted: reads the initiator's hello, answers with our nonce and proof, and
    /// checks the initiator's proof. Nothing is sent to a peer whose first bytes are not the secret handshake's magic.
    /// </summary>
    public static Task<SecureChannelStream> AcceptAsync(Stream inner, SwarmSecret secret, CancellationToken cancellationToken) =>
        AcceptAsync(inner, secret, RandomNumberGenerator.GetBytes(NonceLength), cancellationToken);

    /// <summary>With a given nonce: for fuzzing and tests only (a fixed nonce would let a recorded handshake replay).</summary>
    internal static async Task<SecureChannelStream> AcceptAsync(Stream inner, SwarmSecret secret, byte[] nonce, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(secret);
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
        byte[] nr = nonce;
        byte[] transcript = [.. Magic, .. hello.AsSpan(8, NonceLength), .. nr];
        byte[] answer = [.. Magic, .. nr, .. secret.Proof(ResponderProofPurpose, transcript)];
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
        return new SecureChannelStream(inner,
            sendKey: secret.Derive(ResponderKeyLabel, transcript, 32),
            receiveKey: secret.Derive(InitiatorKeyLabel, transcript, 32));
    }

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
}

/// <summary>A secret handshake or encrypted record the peer got wrong; the connection is over.</summary>
public sealed class SecureChannelException : IOException
{
    public SecureChannelException(SecureChannelFailure failure, string message) : base(message) => Failure = failure;
    public SecureChannelException(SecureChannelFailure failure, string message, Exception inner) : base(message, inner) => Failure = failure;

    public SecureChannelFailure Failure { get; }
}
