using System.Net;
using System.Net.Sockets;

namespace BlockSwarm.Testing;

/// <summary>A TCP port nobody listens on right now, for a process the test starts next (the kernel picks it).</summary>
public static class FreePort
{
    /// <summary>A free port on <paramref name="address"/> (127.0.0.1 when null): bound, read, released.</summary>
    public static int Tcp(IPAddress? address = null)
    {
        using var l = new TcpListener(address ?? IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
