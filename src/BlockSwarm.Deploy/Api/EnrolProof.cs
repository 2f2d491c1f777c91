using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Security;

namespace BlockSwarm.Deploy.Api;

/// <summary>
/// In a secret swarm, a client proves the swarm secret when it enrols, so outsiders cannot claim client ids or put
/// rows on the dashboard: header <c>BlockSwarm-Secret-Proof: UNIXTIME.NONCE.HMAC</c>, the HMAC (hex) the secret derives
/// for "enrol v1" over the client id, the time and a 16-hex-digit nonce. Accepted within
/// <see cref="Window"/> of the server's clock.
/// </summary>
public static class EnrolProof
{
    public const string Header = "BlockSwarm-Secret-Proof";
    private const string Purpose = "enrol v1";

    /// <summary>How far the client's clock may be from the server's.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>The header value for <paramref name="clientId"/> at <paramref name="now"/>.</summary>
    public static string Create(SwarmSecret secret, string clientId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(secret);
        string time = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        return $"{time}.{nonce}.{Convert.ToHexStringLower(secret.Proof(Purpose, Message(clientId, time, nonce)))}";
    }

    /// <summary>Null when <paramref name="value"/> proves the secret for <paramref name="clientId"/>; else why not.</summary>
    public static string? Check(SwarmSecret secret, string clientId, string? value, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (string.IsNullOrEmpty(value)) return $"no proof of the swarm secret (header {Header}): this swarm needs swarm secret {secret.Id}";
        string[] parts = value.Split('.');
        if (parts.Length != 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long unix)
            || parts[1].Length != 16 || parts[2].Length != 64)
            return "a malformed proof of the swarm secret";
        byte[] mac;
        try
        {
            mac = Convert.FromHexString(parts[2]);
            _ = Convert.FromHexString(parts[1]);
        }
        catch (FormatException)
        {
            return "a malformed proof of the swarm secret";
        }
        if (unix > DateTimeOffset.MaxValue.ToUnixTimeSeconds() || Math.Abs((now - DateTimeOffset.FromUnixTimeSeconds(unix)).TotalSeconds) > Window.TotalSeconds)
            return $"a proof of the swarm secret made at unix time {unix}, more than {Window.TotalMinutes:0} minutes from this server's clock";
        if (!secret.Verify(Purpose, Message(clientId, parts[0], parts[1]), mac))
            return $"a wrong proof of the swarm secret: the client has a different secret than {secret.Id}";
        return null;
    }

    private static byte[] Message(string clientId, string time, string nonce) => Encoding.UTF8.GetBytes($"{clientId}\n{time}\n{nonce}");
}
