using System.Buffers.Binary;
using System.Net.Sockets;

namespace BlockSwarm.Engine.Wire;

/// <summary>Linux TCP socket options .NET has no names for (IPPROTO_TCP level).</summary>
internal static class TcpSocketOptions
{
    public const int Level = 6; // IPPROTO_TCP
    public const int Cork = 3; // TCP_CORK
    public const int Congestion = 13; // TCP_CONGESTION

    /// <summary>Sets an integer option without allocating (called per send batch for TCP_CORK).</summary>
    public static void SetInt(Socket socket, int option, int value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        socket.SetRawSocketOption(Level, option, bytes);
    }

    private const int TcpInfo = 11; // TCP_INFO
    private const int NotSentOffset = 144, TcpInfoLength = 148; // struct tcp_info's tcpi_notsent_bytes, Linux >= 4.6

    /// <summary>
    /// From TCP_INFO: bytes written to the socket that the kernel has not sent yet (held back by the congestion or the
    /// receive window). False when the kernel cannot say (not Linux, too old, not TCP).
    /// </summary>
    public static bool TryGetUnsentBytes(Socket socket, out long unsent)
    {
        Span<byte> info = stackalloc byte[TcpInfoLength];
        unsent = 0;
        try
        {
            if (socket.GetRawSocketOption(Level, TcpInfo, info) < TcpInfoLength) return false;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return false;
        }
        unsent = BinaryPrimitives.ReadUInt32LittleEndian(info[NotSentOffset..]);
        return true;
    }
}
