using System.Security.Cryptography;
using System.Text;

namespace BlockSwarm.Security;

/// <summary>
/// The public half of a <see cref="ServerIdentity"/> as a client receives it (base64 SubjectPublicKeyInfo DER in the
/// <c>BlockSwarm-Key</c> header): an ECDSA P-256 key that verifies what the server signed for one purpose.
/// </summary>
public sealed class ServerPublicKey
{
    /// <summary>Longest header accepted: a P-256 SubjectPublicKeyInfo is 91 bytes (124 base64 characters).</summary>
    public const int MaxHeaderLength = 256;

    /// <summary>An ECDSA P-256 signature in IEEE P1363 form (r ‖ s).</summary>
    public const int SignatureLength = 64;

    private readonly byte[] _spki;

    private ServerPublicKey(byte[] spki)
    {
        _spki = spki;
        Fingerprint = KeyFingerprint.Of(spki);
    }

    /// <summary><c>sha256:</c> + base64url SHA-256 of the SubjectPublicKeyInfo: what clients pin.</summary>
    public string Fingerprint { get; }

    public ReadOnlySpan<byte> SubjectPublicKeyInfo => _spki;

    /// <summary>A P-256 public key from its SubjectPublicKeyInfo DER. Throws <see cref="SecretException"/> for anything else.</summary>
    public static ServerPublicKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> der)
    {
        try
        {
            using var ecdsa = ECDsa.Create();
            ecdsa.ImportSubjectPublicKeyInfo(der, out int read);
            if (read != der.Length) throw new SecretException($"the server key has {der.Length - read} bytes after its SubjectPublicKeyInfo");
            if (ecdsa.KeySize != 256 || ecdsa.ExportParameters(false).Curve.Oid.Value != ServerIdentity.CurveOid)
                throw new SecretException($"the server key is not an ECDSA P-256 key ({ecdsa.KeySize} bits)");
            // Canonical bytes: the exported form, so the fingerprint cannot vary with an equivalent encoding.
            return new ServerPublicKey(ecdsa.ExportSubjectPublicKeyInfo());
        }
        // OpenSSL refuses a curve it does not know with PlatformNotSupportedException (found by the signed-job fuzz target).
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException or ArgumentException)
        {
            throw new SecretException($"the server key is not a valid ECDSA P-256 public key: {ex.Message}", ex);
        }
    }

    /// <summary>The key from its header text (standard base64 of the DER). Throws <see cref="SecretException"/>.</summary>
    public static ServerPublicKey FromHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) throw new SecretException("the server sent no key");
        if (header.Length > MaxHeaderLength) throw new SecretException($"the server key header is {header.Length} characters long, more than a P-256 key needs");
        byte[] der = new byte[header.Length];
        if (!Convert.TryFromBase64String(header.Trim(), der, out int n)) throw new SecretException("the server key header is not base64");
        return FromSubjectPublicKeyInfo(der.AsSpan(0, n));
    }

    /// <summary>The header text of this key: standard base64 of its SubjectPublicKeyInfo DER.</summary>
    public string ToHeader() => Convert.ToBase64String(_spki);

    /// <summary>
    /// Whether <paramref name="signature"/> is this key's signature of <paramref name="message"/> for
    /// <paramref name="purpose"/> (<see cref="ServerIdentity.Sign"/>): a signature made for another purpose never verifies.
    /// </summary>
    public bool Verify(string purpose, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureLength) return false;
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(_spki, out _);
        byte[] signed = SignedBytes(purpose, message);
        return ecdsa.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>
    /// What is signed: <c>BlockSwarm PURPOSE v1</c>, a line feed, then the message. The prefix keeps a job signature from
    /// ever passing for anything else the key signs (the TLS handshake and its certificate use contexts of their own).
    /// </summary>
    internal static byte[] SignedBytes(string purpose, ReadOnlySpan<byte> message)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        string prefix = $"BlockSwarm {purpose} v1\n";
        byte[] bytes = new byte[Encoding.ASCII.GetByteCount(prefix) + message.Length];
        int n = Encoding.ASCII.GetBytes(prefix, bytes);
        message.CopyTo(bytes.AsSpan(n));
        return bytes;
    }

    public override string ToString() => Fingerprint;
}
