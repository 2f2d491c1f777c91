namespace BlockSwarm.Engine.Wire;

/// <summary>
/// What a frame from this peer may be, known once the torrent is (after the handshake).
/// The largest legal frame bounds what the reader ever waits for or buffers.
/// </summary>
public sealed record MessageLimits
{
    /// <summary>16 KiB: the block size every client uses; larger requests are refused by most.</summary>
    public const int DefaultMaxBlockLength = 16 * 1024;

    /// <summary>1 MiB for a BEP 10 payload (extended handshake, metadata pieces are 16 KiB).</summary>
    public const int DefaultMaxExtendedLength = 1024 * 1024;

    public MessageLimits(int pieceCount, int maxBlockLength = DefaultMaxBlockLength, int maxExtendedLength = DefaultMaxExtendedLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pieceCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBlockLength);
        ArgumentOutOfRangeException.ThrowIfNegative(maxExtendedLength);
        PieceCount = pieceCount;
        MaxBlockLength = maxBlockLength;
        MaxExtendedLength = maxExtendedLength;
    }

    public int PieceCount { get; }
    public int MaxBlockLength { get; }
    public int MaxExtendedLength { get; }

    /// <summary>Byte length of a bitfield message's payload for this torrent.</summary>
    public int BitfieldLength => (PieceCount + 7) / 8;

    /// <summary>Largest value of the 4-byte length prefix (id + body, prefix excluded).</summary>
    public int MaxFrameLength => Math.Max(Math.Max(9 + MaxBlockLength, 1 + BitfieldLength), Math.Max(2 + MaxExtendedLength, 13));
}
