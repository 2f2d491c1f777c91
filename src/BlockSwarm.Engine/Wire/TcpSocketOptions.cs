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
}
