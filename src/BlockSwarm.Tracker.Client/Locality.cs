using System.Net;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// Which peers are behind the same switch, as far as addresses tell: the same IPv4 /24 (or IPv6 /64) — how rooms and
/// labs are usually numbered, one subnet per access switch. Used by the tracker (answer a client with peers of its own
/// subnet first) and the engine (ask peers across the uplink only for what no local peer has).
/// </summary>
public static class Locality
{
    public const int DefaultIPv4Prefix = 24;
    public const int DefaultIPv6Prefix = 64;

    /// <summary>
    /// True when <paramref name="a"/> and <paramref name="b"/> share their first <paramref name="ipv4Prefix"/> bits (IPv4,
    /// IPv4-mapped IPv6 counted as IPv4) or <paramref name="ipv6Prefix"/> bits (IPv6). A prefix of 0 makes every address
    /// local (locality off); addresses of different families are never local to each other.
    /// </summary>
    public static bool SameSubnet(IPAddress a, IPAddress b, int ipv4Prefix = DefaultIPv4Prefix, int ipv6Prefix = DefaultIPv6Prefix)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.IsIPv4MappedToIPv6) a = a.MapToIPv4();
        if (b.IsIPv4MappedToIPv6) b = b.MapToIPv4();
        if (a.AddressFamily != b.AddressFamily) return false;
        int prefix = a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ipv4Prefix : ipv6Prefix;
        if (prefix <= 0) return true;
        Span<byte> x = stackalloc byte[16], y = stackalloc byte[16];
        a.TryWriteBytes(x, out int length);
        b.TryWriteBytes(y, out _);
        prefix = Math.Min(prefix, length * 8);
        int whole = prefix / 8;
        if (!x[..whole].SequenceEqual(y[..whole])) return false;
        int rest = prefix % 8;
        if (rest == 0) return true;
        int mask = 0xff << (8 - rest) & 0xff;
        return (x[whole] & mask) == (y[whole] & mask);
    }
}
