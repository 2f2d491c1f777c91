using System.Security.Cryptography;

namespace BlockSwarm.Security;

/// <summary>The AEAD a secret channel's records are sealed with, agreed in its handshake (<see cref="SecureChannel"/>).</summary>
public enum CipherSuite : byte
{
    /// <summary>AES-256-GCM through .NET's <see cref="AesGcm"/>: always there.</summary>
    Aes256Gcm = 1,

    /// <summary>
    /// AES-128-OCB (RFC 7253) through the system's libcrypto: no GHASH, so 2–2.5× AES-256-GCM's speed on one core
    /// (OpenSSL 3.0 here: 7.4 against 2.7–4.9 GB/s at 16 KiB). Offered when libcrypto has it (<see cref="OcbRecordCipher.IsSupported"/>).
    /// </summary>
    Aes128Ocb = 2,
}

/// <summary>One direction's AEAD for a secret channel's records: 12-byte nonces, 16-byte tags. Not thread-safe.</summary>
internal abstract class RecordCipher : IDisposable
{
    public const int NonceLength = 12;
    public const int TagLength = 16;

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="ciphertext"/> (same length; may be the same memory).</summary>
    public abstract void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData);

    /// <summary>Opens a record; throws <see cref="AuthenticationTagMismatchException"/> when it does not authenticate (then <paramref name="plaintext"/> holds nothing of it).</summary>
    public abstract void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData);

    public abstract void Dispose();

    /// <summary>The key length of a suite, in bytes.</summary>
    public static int KeyLength(CipherSuite suite) => suite switch
    {
        CipherSuite.Aes256Gcm => 32,
        CipherSuite.Aes128Ocb => 16,
        _ => throw new ArgumentOutOfRangeException(nameof(suite), suite, "unknown cipher suite"),
    };

    /// <summary>
    /// A cipher of <paramref name="suite"/> keyed with <paramref name="key"/> (which the caller then wipes), for sealing
    /// (the sending direction) or opening records.
    /// </summary>
    public static RecordCipher Create(CipherSuite suite, ReadOnlySpan<byte> key, bool sealing) => suite switch
    {
        CipherSuite.Aes256Gcm => new AesGcmRecordCipher(key),
        CipherSuite.Aes128Ocb => new OcbRecordCipher(key, sealing),
        _ => throw new ArgumentOutOfRangeException(nameof(suite), suite, "unknown cipher suite"),
    };

    /// <summary>The environment variable that restricts and orders the suites (<see cref="Supported"/>).</summary>
    public const string SuitesVariable = "BLOCKSWARM_SECRET_CIPHERS";

    /// <summary>
    /// The suites this process offers and accepts, best first: AES-128-OCB where libcrypto has it, then AES-256-GCM; or
    /// what <c>BLOCKSWARM_SECRET_CIPHERS</c> lists (<c>aes128ocb</c>, <c>aes256gcm</c>, comma-separated, in order of
    /// preference; e.g. <c>aes256gcm</c> where policy allows only GCM). Names it does not know, or a suite this machine
    /// cannot run, are an error at first use.
    /// </summary>
    public static IReadOnlyList<CipherSuite> Supported => LazySupported.Value;

    private static readonly Lazy<IReadOnlyList<CipherSuite>> LazySupported = new(() => Choose(Environment.GetEnvironmentVariable(SuitesVariable)));

    internal static IReadOnlyList<CipherSuite> Choose(string? setting)
    {
        if (string.IsNullOrWhiteSpace(setting))
            return OcbRecordCipher.IsSupported ? [CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm] : [CipherSuite.Aes256Gcm];
        var suites = new List<CipherSuite>();
        foreach (var name in setting.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var suite = name.ToLowerInvariant() switch
            {
                "aes128ocb" or "aes-128-ocb" => CipherSuite.Aes128Ocb,
                "aes256gcm" or "aes-256-gcm" => CipherSuite.Aes256Gcm,
                _ => throw new SecretException($"{SuitesVariable}: '{name}' is not a cipher suite (aes128ocb, aes256gcm)"),
            };
            if (suite == CipherSuite.Aes128Ocb && !OcbRecordCipher.IsSupported)
                throw new SecretException($"{SuitesVariable}: this machine's libcrypto (libcrypto.so.3) has no AES-128-OCB");
            if (!suites.Contains(suite)) suites.Add(suite);
        }
        if (suites.Count == 0) throw new SecretException($"{SuitesVariable} names no cipher suite");
        return suites;
    }
}

internal sealed class AesGcmRecordCipher(ReadOnlySpan<byte> key) : RecordCipher
{
    private readonly AesGcm _aes = new(key, TagLength);

    public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData) =>
        _aes.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);

    public override void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData) =>
        _aes.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);

    public override void Dispose() => _aes.Dispose();
}
