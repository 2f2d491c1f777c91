using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace BlockSwarm.Security;

/// <summary>
/// The token that authorises operator actions on <c>serve</c>'s HTTP API (and, with <c>--dashboard token</c>, reading
/// the dashboard): <c>--operator-token-file FILE</c>, one line of text, made (32 random bytes, base64url, mode 0600) when
/// the file does not exist. Compared in constant time; never logged.
/// </summary>
public sealed class OperatorToken
{
    /// <summary>Shortest token accepted from a file an operator wrote (a generated one has 43 characters).</summary>
    public const int MinimumLength = 16;

    private readonly byte[] _hash;

    private OperatorToken(string text, string source, bool created, string? warning)
    {
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        Source = source;
        Created = created;
        FileModeWarning = warning;
    }

    /// <summary>The file the token is in, or "generated for this run".</summary>
    public string Source { get; }

    /// <summary>True when <see cref="LoadOrCreate"/> wrote the file.</summary>
    public bool Created { get; }

    /// <summary>Set when the file can be read by others than its owner.</summary>
    public string? FileModeWarning { get; }

    /// <summary>A token from its text (tests; a server nobody may act on gets a random one).</summary>
    public static OperatorToken FromText(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length < MinimumLength || text.Any(char.IsControl) || text.Contains(' ', StringComparison.Ordinal))
            throw new SecretException($"the operator token from {source} must be one word of at least {MinimumLength} printable characters");
        return new OperatorToken(text, source, false, null);
    }

    /// <summary>A random token nobody knows (a server started without a token file: its operator actions are closed).</summary>
    public static OperatorToken Random() => new(Generate(), "generated for this run", false, null);

    /// <summary>A fresh token's text: 32 random bytes as base64url.</summary>
    public static string Generate() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>Loads the token file, or writes a fresh token there (0600) when there is none. Throws <see cref="SecretException"/>.</summary>
    public static OperatorToken LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            string text = Generate();
            if (PrivateFile.TryCreate(path, text + "\n", "operator token")) return new OperatorToken(text, path, true, null);
        }
        string read = PrivateFile.Read(path, 4096, "operator token", out var warning).Trim();
        var token = FromText(read, path);
        return new OperatorToken(read, path, false, warning ?? token.FileModeWarning);
    }

    /// <summary>Whether <paramref name="presented"/> is this token (constant time over hashes: the length leaks nothing).</summary>
    public bool Matches(ReadOnlySpan<char> presented)
    {
        Span<byte> hash = stackalloc byte[32];
        byte[] bytes = Encoding.UTF8.GetBytes(presented.Trim().ToArray());
        SHA256.HashData(bytes, hash);
        return CryptographicOperations.FixedTimeEquals(hash, _hash);
    }

    public override string ToString() => $"operator token ({Source})";
}
