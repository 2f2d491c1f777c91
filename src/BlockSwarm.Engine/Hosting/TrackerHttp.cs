using System.Net;
using System.Net.Sockets;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// The HTTP client an engine announces with. With a <see cref="EngineOptions.LocalAddress"/>, announces leave from that
/// address as peer connections do (libtorrent binds its tracker connections to the listen interface too): a tracker
/// that takes a peer's address from the connection and ignores <c>ip=</c> — opentracker, as Clonezilla runs it —
/// would otherwise hand out the host's default address, where a daemon bound to another one does not listen.
/// </summary>
internal static class TrackerHttp
{
    public static HttpClient Create(IPAddress? local)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (local is not null && !local.Equals(IPAddress.Any) && !local.Equals(IPAddress.IPv6Any))
            handler.ConnectCallback = (context, ct) => ConnectAsync(local, context.DnsEndPoint, ct);
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
    }

    /// <summary>
    /// Connects to the tracker from <paramref name="local"/> when it can reach it: same address family, and a loopback
    /// address only towards loopback (from 127.0.0.x nothing else is reachable); otherwise as the routing table says.
    /// </summary>
    internal static async ValueTask<Stream> ConnectAsync(IPAddress local, DnsEndPoint tracker, CancellationToken ct)
    {
        var addresses = IPAddress.TryParse(tracker.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(tracker.Host, ct).ConfigureAwait(false);
        if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);
        // The addresses the bound socket can reach first; then the rest, unbound.
        var ordered = addresses.OrderBy(a => CanBind(local, a) ? 0 : 1).ToList();
        SocketException? last = null;
        foreach (var address in ordered)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (CanBind(local, address)) socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(new IPEndPoint(address, tracker.Port), ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    internal static bool CanBind(IPAddress local, IPAddress remote) =>
        local.AddressFamily == remote.AddressFamily && (!IPAddress.IsLoopback(local) || IPAddress.IsLoopback(remote));
}
