using System.Net;
using System.Net.Sockets;

namespace BlockSwarm.Security.Tests;

internal static class LoopbackTcp
{
    /// <summary>Two ends of a loopback TCP connection (real sockets: the channel runs over NetworkStreams in the engine).</summary>
    public static async Task<(NetworkStream Dialer, NetworkStream Acceptor)> PairAsync(CancellationToken ct)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var dialer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task connect = dialer.ConnectAsync((IPEndPoint)listener.LocalEndpoint, ct).AsTask();
        Socket accepted = await listener.AcceptSocketAsync(ct);
        await connect;
        return (new NetworkStream(dialer, ownsSocket: true), new NetworkStream(accepted, ownsSocket: true));
    }
}
