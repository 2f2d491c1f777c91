using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace BlockSwarm.Security;

/// <summary>
/// The secret a swarm's members share (<c>--secret-file</c>, <c>blockswarm.secret=</c> on a netboot kernel command line).
/// It never travels: peers prove they hold it (HMACs over fresh nonces) and derive per-connection keys from it; the
/// tracker checks a proof in every announce. The text becomes a 32-byte pseudorandom key with HKDF-Extract (SHA-256), and
/// every use gets its own key by HKDF-Expand with its own label, so no two uses can stand in for each other.
/// <para>
/// The proofs are public (a listener answers any dialer with one; announces carry one), so anyone can test guesses of
/// the secret offline. A generated secret (<see cref="Generate"/>: 256 random bits) makes that hopeless; any other text —
/// a passphrase typed on a kernel command line — is first stretched with PBKDF2-HMAC-SHA-256 at
/// <see cref="PassphraseIterations"/> iterations, which makes each guess cost as much as a password hash should.
/// </para>
/// </summary>
public sealed class SwarmSecret
{
    /// <summary>Shortest secret accepted: 16 bytes of text (a generated one is 43 characters of base64url: 256 bits).</summary>
    public const int MinimumLength = 16;

    /// <summary>PBKDF2-HMAC-SHA-256 iterations for a secret that is not a generated one (OWASP's figure for SHA-256, 2023).</summary>
    public const int PassphraseIterations = 600_000;

    private static readonly byte[] ExtractSalt = "BlockSwarm swarm secret v1"u8.ToArray();
    private static readonly byte[] PassphraseSalt = "BlockSwarm swarm secret v1 passphrase"u8.ToArray();
    private readonly byte[] _prk;
    private readonly ConcurrentDictionary<string, byte[]> _proofKeys = new(StringComparer.Ordinal);

    private SwarmSecret(byte[] prk, string source)
    {
        _prk = prk;
        Source = source;
        Id = Convert.ToHexStringLower(Derive("BlockSwarm secret id", [], 4));
    }

    /// <summary>Where the secret came from (a path, "kernel command line", "generated"), for log lines.</summary>
    public string Source { get; }

    /// <summary>
    /// A public name of this secret (8 hex digits derived one-way from it): two processes with the same id share the
    /// secret, so an operator can tell from the logs whether a refused peer has a different one. Reveals nothing usable.
    /// </summary>
    public string Id { get; }

    /// <summary>
    /// True when the text was not a generated secret and was stretched with PBKDF2: it resists guessing only as well as a
    /// password of its strength would.
    /// </summary>
    public bool Stretched { get; private init; }

    /// <summary>Whether <paramref name="text"/> has the form <see cref="Generate"/> gives: 43 base64url characters, 32 bytes.</summary>
    private static bool IsGenerated(ReadOnlySpan<byte> text)
    {
        if (text.Length != 43) return false;
        foreach (byte c in text)
            if (!(c is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_'))
                return false;
        return true;
    }

    /// <summary>Set by <see cref="Load"/> when the file can be read by others than its owner (it should be mode 0600).</summary>
    public string? FileModeWarning { get; private init; }

    /// <summary>A secret from its text (surrounding white space ignored). Throws <see cref="SecretException"/> when too short.</summary>
    public static SwarmSecret FromText(string text, string source) => FromText(text, source, fileModeWarning: null);

    private static SwarmSecret FromText(string text, string source, string? fileModeWarning)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = Encoding.UTF8.GetBytes(text.Trim());
        try
        {
            if (bytes.Length < MinimumLength)
                throw new SecretException($"the swarm secret from {source} is {bytes.Length} bytes long; at least {MinimumLength} are needed (make one with `blockswarm secret new FILE`)");
            if (IsGenerated(bytes))
                return new SwarmSecret(HKDF.Extract(HashAlgorithmName.SHA256, bytes, ExtractSalt), source) { Stretched = false, FileModeWarning = fileModeWarning };
            byte[] stretched = Rfc2898DeriveBytes.Pbkdf2(bytes, PassphraseSalt, PassphraseIterations, HashAlgorithmName.SHA256, 32);
            try
            {
                return new SwarmSecret(HKDF.Extract(HashAlgorithmName.SHA256, stretched, ExtractSalt), source) { Stretched = true, FileModeWarning = fileModeWarning };
            }
            finally
            {
                CryptographicOperations.ZeroMemory(stretched);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>Reads a secret file (its text, as <see cref="FromText"/>). Throws <see cref="SecretException"/> naming the file.</summary>
    public static SwarmSecret Load(string path)
    {
        if (!File.Exists(path))
            throw new SecretException($"swarm secret file {path} does not exist (make one with `blockswarm secret new {path}`)");
        string text = PrivateFile.Read(path, 4096, "swarm secret", out string? warning);
        return FromText(text, path, warning);
    }

    /// <summary>A fresh secret's text: 32 random bytes as base64url (43 characters).</summary>
    public static string Generate() => Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Writes a fresh secret to <paramref name="path"/>, readable by its owner only; refuses to overwrite a file.</summary>
    public static SwarmSecret CreateFile(string path)
    {
        string text = Generate();
        if (!PrivateFile.TryCreate(path, text + "\n", "swarm secret"))
            throw new SecretException($"{path} already exists; not overwriting a secret (remove it first if you mean to replace it)");
        return FromText(text, path);
    }

    /// <summary>
    /// HKDF-Expand of the secret for one purpose: <paramref name="label"/> names the use, <paramref name="context"/>
    /// binds it (e.g. both sides' nonces). Distinct labels give independent keys.
    /// </summary>
    public byte[] Derive(string label, ReadOnlySpan<byte> context, int length)
    {
        ArgumentNullException.ThrowIfNull(label);
        byte[] info = new byte[Encoding.UTF8.GetByteCount(label) + 1 + context.Length];
        int n = Encoding.UTF8.GetBytes(label, info);
        info[n] = 0;
        context.CopyTo(info.AsSpan(n + 1));
        return HKDF.Expand(HashAlgorithmName.SHA256, _prk, length, info);
    }

    /// <summary>HMAC-SHA-256 of <paramref name="message"/> under the key this secret derives for <paramref name="purpose"/>.</summary>
    public byte[] Proof(string purpose, ReadOnlySpan<byte> message)
    {
        byte[] key = _proofKeys.GetOrAdd(purpose, static (p, self) => self.Derive("BlockSwarm proof " + p, [], 32), this);
        return HMACSHA256.HashData(key, message);
    }

    /// <summary>Whether <paramref name="proof"/> is <see cref="Proof"/> of the message, compared in constant time.</summary>
    public bool Verify(string purpose, ReadOnlySpan<byte> message, ReadOnlySpan<byte> proof) =>
        proof.Length == 32 && CryptographicOperations.FixedTimeEquals(Proof(purpose, message), proof);

    public override string ToString() => $"swarm secret {Id} ({Source})";

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>A swarm secret, key or signature that cannot be used: the message says which and why.</summary>
public sealed class SecretException : Exception
{
    public SecretException(string message) : base(message) { }
    public SecretException(string message, Exception inner) : base(message, inner) { }
    public SecretException() { }
}
