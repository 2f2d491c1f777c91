using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// Per-client tokens for status reports: HMAC-SHA-256 of the client id under a key this server run draws at random,
/// base64url. The server keeps no table of tokens (any token checks against its id alone) and a token of one id never
/// passes for another; a restarted server has a new key, and its clients enrol again when a report is refused.
/// </summary>
public sealed class ClientTokens
{
    private readonly byte[] _key;

    public ClientTokens() : this(RandomNumberGenerator.GetBytes(32)) { }

    /// <summary>A fixed key (tests).</summary>
    public ClientTokens(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 16) throw new ArgumentException("a token key has at least 16 bytes", nameof(key));
        _key = key;
    }

    /// <summary>The token of client <paramref name="clientId"/>.</summary>
    public string Issue(string clientId) => Base64Url.EncodeToString(Mac(clientId));

    /// <summary>Whether <paramref name="token"/> is <paramref name="clientId"/>'s (constant time).</summary>
    public bool Verify(string clientId, ReadOnlySpan<char> token)
    {
        Span<byte> presented = stackalloc byte[33];
        if (token.Length != 43 || Base64Url.DecodeFromChars(token, presented, out _, out int n) != System.Buffers.OperationStatus.Done || n != 32)
            return false;
        return CryptographicOperations.FixedTimeEquals(presented[..32], Mac(clientId));
    }

    private byte[] Mac(string clientId) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("BlockSwarm client token v1\0" + clientId));
}
