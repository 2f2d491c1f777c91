using System.Net.Sockets;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Hosting;

/// <summary>Socket options every peer connection gets: no Nagle delay, the configured buffers and congestion control.</summary>
internal static class SocketTuning
{
    public static void Apply(Socket socket, EngineOptions options)
    {
        socket.NoDelay = true;
        if (options.SocketBufferBytes > 0)
        {
            socket.SendBufferSize = options.SocketBufferBytes;
            socket.ReceiveBufferSize = options.SocketBufferBytes;
        }
        if (options.TcpCongestion is { Length: > 0 } cc && !cc.Equals("system", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                socket.SetRawSocketOption(TcpSocketOptions.Level, TcpSocketOptions.Congestion, System.Text.Encoding.ASCII.GetBytes(cc));
            }
            catch (SocketException)
            {
                // Not built into this kernel or not allowed: the system default stays.
            }
        }
    }
}
