using System.Buffers.Text;
using System.Security.Cryptography;

namespace BlockSwarm.Security;

/// <summary>
/// The name an operator pins a server key by: <c>sha256:</c> and the base64url SHA-256 of the key's SubjectPublicKeyInfo
/// DER (43 characters, no padding), e.g. <c>sha256:Vb0X…</c>. One text names both the job-signing key and a TLS
/// certificate made from it (the hash is over the public key, not the certificate), so one pin covers both.
/// </summary>
public static class KeyFingerprint
{
    public const string Prefix = "sha256:";

    /// <summary>The fingerprint of a SubjectPublicKeyInfo (any algorithm: TLS certificates given as files may be RSA).</summary>
    public static string Of(ReadOnlySpan<byte> subjectPublicKeyInfo) => Prefix + Base64Url.EncodeToString(SHA256.HashData(subjectPublicKeyInfo));

    /// <summary>
    /// Reads a fingerprint as an operator types it: <c>sha256:</c> + 43 base64url characters, or + 64 hex digits (as
    /// <c>openssl … | sha256sum</c> prints); the prefix may be upper case. Gives the canonical (base64url) text.
    /// </summary>
    public static bool TryParse(string? text, out string fingerprint)
    {
        fingerprint = "";
        if (text is null) return false;
        text = text.Trim();
        if (!text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)) return false;
        var body = text.AsSpan(Prefix.Length);
        Span<byte> hash = stackalloc byte[32];
        if (body.Length == 64)
        {
            if (Convert.FromHexString(body, hash, out _, out int written) != System.Buffers.OperationStatus.Done || written != 32) return false;
        }
        else if (body.Length == 43)
        {
            if (!Base64Url.IsValid(body) || Base64Url.DecodeFromChars(body, hash, out _, out int written) != System.Buffers.OperationStatus.Done || written != 32)
                return false;
        }
        else
        {
            return false;
        }
        fingerprint = Prefix + Base64Url.EncodeToString(hash);
        return true;
    }

    /// <summary><see cref="TryParse"/>, or a <see cref="SecretException"/> saying what a fingerprint looks like.</summary>
    public static string Parse(string text, string what)
    {
        if (TryParse(text, out var fp)) return fp;
        throw new SecretException($"{what} '{text}' is not a key fingerprint: expected sha256: and 43 base64url characters (as serve prints it) or 64 hex digits");
    }
}
