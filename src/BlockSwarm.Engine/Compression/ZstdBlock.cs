using System.Buffers;
using System.Buffers.Binary;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Compression;

/// <summary>
/// The <c>bs_zstd</c> BEP 10 message: a run of blocks (what one REQUEST asked for) as one zstd frame. Payload after the
/// extended id: piece (u32), begin (u32), decoded length (u32), all big-endian, then the frame. A BlockSwarm peer sends
/// it instead of a PIECE message only to a peer that announced <c>bs_zstd</c> in its extended handshake; the receiver
/// decodes it into exactly the announced length and handles it as that PIECE (the piece is SHA-1-verified over the
/// decoded bytes like any other).
/// </summary>
internal static class ZstdBlock
{
    /// <summary>The extension's name in the BEP 10 handshake's <c>m</c> dictionary.</summary>
    public const string ExtensionName = "bs_zstd";

    /// <summary>Piece, begin and decoded length.</summary>
    public const int HeaderLength = 12;

    /// <summary>Smallest zstd frame: magic number (4), frame header (2), one block header (3).</summary>
    private const int MinFrameLength = 9;

    /// <summary>Writes the header into the first <see cref="HeaderLength"/> bytes of <paramref name="payload"/>.</summary>
    public static void WriteHeader(Span<byte> payload, int piece, int begin, int length)
    {
        BinaryPrimitives.WriteInt32BigEndian(payload, piece);
        BinaryPrimitives.WriteInt32BigEndian(payload[4..], begin);
        BinaryPrimitives.WriteInt32BigEndian(payload[8..], length);
    }

    /// <summary>
    /// Reads the header of a received message and checks it against what this side accepts: a piece of the torrent, a run
    /// inside it, no longer than <paramref name="maxLength"/> (the longest request we announced; it bounds the decoded
    /// buffer, so a small frame can never make us allocate more).
    /// </summary>
    /// <exception cref="PeerProtocolException">The message can never be valid.</exception>
    public static (int Piece, int Begin, int Length) ReadHeader(in ReadOnlySequence<byte> payload, int pieceCount, Func<int, int> pieceLength, int maxLength)
    {
        if (payload.Length < HeaderLength + MinFrameLength)
            throw new PeerProtocolException($"{ExtensionName}: message of {payload.Length} bytes is shorter than a header and a zstd frame");
        Span<byte> header = stackalloc byte[HeaderLength];
        payload.Slice(0, HeaderLength).CopyTo(header);
        uint piece = BinaryPrimitives.ReadUInt32BigEndian(header);
        uint begin = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        if (piece >= (uint)pieceCount)
            throw new PeerProtocolException($"{ExtensionName}: piece index {piece} out of range (torrent has {pieceCount} pieces)");
        if (length == 0 || length > (uint)maxLength)
            throw new PeerProtocolException($"{ExtensionName}: piece {piece} run of {length} bytes is outside 1..{maxLength}");
        int limit = pieceLength((int)piece);
        if (begin > (uint)limit || length > (uint)limit - begin)
            throw new PeerProtocolException($"{ExtensionName}: piece {piece} run [{begin}, +{length}) runs past the piece's {limit} bytes");
        return ((int)piece, (int)begin, (int)length);
    }
}
