using System.Buffers;
using System.Buffers.Binary;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Extensions;

/// <summary>
/// <c>bs_import</c>, a BEP 10 extension of BlockSwarm's: "I am fetching these pieces from behind another switch". Sent
/// to the peers of our own switch (subnet) that announced it, as we start fetching a piece across the uplink; they then
/// leave that piece to us for <see cref="Swarm.SwarmOptions.ImportIntentTimeout"/> and fetch it from us once we have it,
/// so each piece crosses into a switch about once (swarm simulator, 5 switches × 48: from 3.6 to 1.2 × F per uplink).
/// Payload: piece indexes, 4 bytes each, big-endian; at most <see cref="MaxPieces"/>. Other clients never see it.
/// </summary>
public static class ImportMessage
{
    public const string ExtensionName = "bs_import";

    /// <summary>Most piece indexes in one message (a peer's pipeline starts far fewer pieces at once).</summary>
    public const int MaxPieces = 256;

    /// <summary>The payload for <paramref name="pieces"/> (at most <see cref="MaxPieces"/> of them).</summary>
    public static byte[] Encode(ReadOnlySpan<int> pieces)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pieces.Length, MaxPieces);
        var payload = new byte[pieces.Length * 4];
        for (int i = 0; i < pieces.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(pieces[i]);
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(i * 4), pieces[i]);
        }
        return payload;
    }

    /// <summary>The piece indexes of a payload; a protocol error when it is empty, ragged, too long or names a piece the torrent lacks.</summary>
    public static int[] Decode(ReadOnlySequence<byte> message, int pieceCount)
    {
        if (message.IsEmpty || message.Length % 4 != 0 || message.Length > MaxPieces * 4)
            throw new PeerProtocolException($"{ExtensionName} message of {message.Length} bytes (a multiple of 4, 4 to {MaxPieces * 4})");
        Span<byte> payload = stackalloc byte[(int)message.Length];
        message.CopyTo(payload);
        var pieces = new int[payload.Length / 4];
        for (int i = 0; i < pieces.Length; i++)
        {
            int piece = BinaryPrimitives.ReadInt32BigEndian(payload[(i * 4)..]);
            if ((uint)piece >= (uint)pieceCount)
                throw new PeerProtocolException($"{ExtensionName} names piece {piece}; the torrent has {pieceCount}");
            pieces[i] = piece;
        }
        return pieces;
    }
}
