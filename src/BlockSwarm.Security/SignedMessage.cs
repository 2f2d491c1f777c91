using System.Buffers.Text;

namespace BlockSwarm.Security;

/// <summary>
/// A body signed by a <see cref="ServerIdentity"/> and carried in two HTTP headers beside it: <see cref="KeyHeader"/>
/// (the public key, base64 SubjectPublicKeyInfo DER) and <see cref="SignatureHeader"/> (<c>ecdsa-p256-sha256 </c> and
/// the base64url P1363 signature of <c>BlockSwarm PURPOSE v1\n</c> + the body's exact bytes). The body is checked as
/// received, before it is parsed; the caller then decides whether the key is one it trusts (<see cref="ServerTrust"/>).
/// </summary>
public static class SignedMessage
{
    public const string KeyHeader = "BlockSwarm-Key";
    public const string SignatureHeader = "BlockSwarm-Signature";
    public const string Algorithm = "ecdsa-p256-sha256";

    /// <summary>Longest signature header accepted (the algorithm, a space and 86 base64url characters).</summary>
    public const int MaxSignatureHeaderLength = 128;

    /// <summary>The <see cref="SignatureHeader"/> value for <paramref name="body"/>.</summary>
    public static string Sign(ServerIdentity identity, string purpose, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return $"{Algorithm} {Base64Url.EncodeToString(identity.Sign(purpose, body))}";
    }

    /// <summary>
    /// The key that signed <paramref name="body"/> for <paramref name="purpose"/>, from the two headers' values. Throws
    /// <see cref="SecretException"/> when a header is missing or malformed or the signature does not verify.
    /// </summary>
    public static ServerPublicKey Verify(string purpose, ReadOnlySpan<byte> body, string? keyHeader, string? signatureHeader)
    {
        if (string.IsNullOrWhiteSpace(keyHeader) && string.IsNullOrWhiteSpace(signatureHeader))
            throw new SecretException($"the {purpose} is not signed (no {KeyHeader} and {SignatureHeader} headers)");
        var key = ServerPublicKey.FromHeader(keyHeader);
        if (string.IsNullOrWhiteSpace(signatureHeader)) throw new SecretException($"the {purpose} has a key but no {SignatureHeader} header");
        if (signatureHeader.Length > MaxSignatureHeaderLength) throw new SecretException($"the {SignatureHeader} header is {signatureHeader.Length} characters long");
        var text = signatureHeader.AsSpan().Trim();
        int space = text.IndexOf(' ');
        if (space < 0 || !text[..space].SequenceEqual(Algorithm))
            throw new SecretException($"the {SignatureHeader} header does not start with {Algorithm}");
        var encoded = text[(space + 1)..].Trim();
        Span<byte> signature = stackalloc byte[ServerPublicKey.SignatureLength + 3];
        if (!Base64Url.IsValid(encoded) || Base64Url.DecodeFromChars(encoded, signature, out _, out int written) != System.Buffers.OperationStatus.Done
            || written != ServerPublicKey.SignatureLength)
            throw new SecretException($"the {SignatureHeader} header does not hold a {ServerPublicKey.SignatureLength}-byte base64url signature");
        if (!key.Verify(purpose, body, signature[..written]))
            throw new SecretException($"the {purpose}'s signature does not verify with the key sent beside it ({key.Fingerprint}): the {purpose} was changed on the way");
        return key;
    }
}
