using System.Net;
using System.Net.NetworkInformation;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// Which peers are behind the same switch, as far as addresses tell: the same subnet — how rooms and labs are usually
/// numbered, one subnet per access switch. The tracker, which cannot see its clients' netmasks, takes IPv4 /24 and IPv6
/// /64 (configurable) to answer a client with peers of its own subnet first; the engine takes its own interface's
/// netmask (<see cref="PrefixOf(IPAddress)"/>) to ask peers across the uplink only for what no local peer has.
/// </summary>
public static class Locality
{
    public const int DefaultIPv4Prefix = 24;
    public const int DefaultIPv6Prefix = 64;

    private static readonly Lock SnapshotGate = new();
    private static (IPAddress Address, int Prefix)[] _interfaces = [];
    private static long _snapshotAt = long.MinValue;

    /// <summary>
    /// The subnet prefix of our own address <paramref name="local"/>: its interface's netmask (a flat room numbered in a
    /// /22 or /16 is one subnet), from a snapshot of the interfaces taken at most once a minute; the defaults (/24, /64)
    /// for an address no interface holds and for masks that cannot describe a switch's segment (an IPv4 mask outside
    /// /8–/30, an IPv6 one outside /16–/64: host routes, point-to-point links).
    /// </summary>
    public static int PrefixOf(IPAddress local)
    {
        ArgumentNullException.ThrowIfNull(local);
        (IPAddress, int)[] interfaces;
        lock (SnapshotGate)
        {
            long now = Environment.TickCount64;
            if (_snapshotAt == long.MinValue || now - _snapshotAt >= 60_000)
            {
                _interfaces = [.. InterfaceAddresses()];
                _snapshotAt = now;
            }
            interfaces = _interfaces;
        }
        return PrefixOf(local, interfaces);
    }

    /// <summary><see cref="PrefixOf(IPAddress)"/> over a given list of interface addresses and their prefix lengths.</summary>
    public static int PrefixOf(IPAddress local, IEnumerable<(IPAddress Address, int Prefix)> interfaces)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(interfaces);
        if (local.IsIPv4MappedToIPv6) local = local.MapToIPv4();
        bool v4 = local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        foreach (var (address, prefix) in interfaces)
        {
            if (!address.Equals(local)) continue;
            if (v4 ? prefix is >= 8 and <= 30 : prefix is >= 16 and <= 64) return prefix;
            break;
        }
        return v4 ? DefaultIPv4Prefix : DefaultIPv6Prefix;
    }

    private static IEnumerable<(IPAddress, int)> InterfaceAddresses()
    {
        NetworkInterface[] all;
        try
        {
            all = NetworkInterface.GetAllNetworkInterfaces();
        }
        catch (NetworkInformationException)
        {
            yield break;
        }
        foreach (var nic in all)
            foreach (var a in nic.GetIPProperties().UnicastAddresses)
                yield return (a.Address, a.PrefixLength);
    }

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
