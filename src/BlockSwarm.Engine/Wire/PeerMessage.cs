using System.Buffers;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// One decoded frame: a view over the receive buffer, valid only until the handler that got it returns
/// (or its returned task completes). Nothing is copied: <see cref="Payload"/> slices the pipe's buffer,
/// so a piece block is copied exactly once, by the caller, into its piece buffer.
/// </summary>
public readonly struct PeerMessage
{
    private readonly int _index;
    private readonly int _begin;
    private readonly int _length;

    internal PeerMessage(MessageKind kind, int wireLength, int index = 0, int begin = 0, int length = 0, byte extendedId = 0, ReadOnlySequence<byte> payload = default)
    {
        Kind = kind;
        WireLength = wireLength;
        _index = index;
        _begin = begin;
        _length = length;
        ExtendedId = extendedId;
        Payload = payload;
    }

    /// <summary>The message id; an id this version does not know is passed through as an undefined value.</summary>
    public MessageKind Kind { get; }

    /// <summary>Bytes on the wire, the 4-byte length prefix included.</summary>
    public int WireLength { get; }

    /// <summary>Piece index of have, request, piece, cancel, suggest, reject and allowed-fast.</summary>
    public int PieceIndex => _index;

    /// <summary>Byte offset in the piece of request, piece, cancel and reject.</summary>
    public int Begin => _begin;

    /// <summary>Requested length (request, cancel, reject) or block length (piece).</summary>
    public int Length => _length;

    /// <summary>DHT port of a port message (BEP 5).</summary>
    public ushort Port => Kind == MessageKind.Port ? (ushort)_index : (ushort)0;

    /// <summary>Extended message id (BEP 10; 0 = extended handshake).</summary>
    public byte ExtendedId { get; }

    /// <summary>Block data (piece), the bitfield bytes (bitfield), the payload after the id (extended); empty otherwise.</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>True when <see cref="Kind"/> is one this version handles; BEP 3 says to ignore the others.</summary>
    public bool IsKnown => IsKnownKind(Kind);

    internal static bool IsKnownKind(MessageKind kind) => kind switch
    {
        >= MessageKind.KeepAlive and <= MessageKind.Port => true,
        >= MessageKind.Suggest and <= MessageKind.AllowedFast => true,
        MessageKind.Extended => true,
        _ => false,
    };

    public override string ToString() => Kind switch
    {
        MessageKind.Have or MessageKind.Suggest or MessageKind.AllowedFast => $"{Kind}({PieceIndex})",
        MessageKind.Request or MessageKind.Cancel or MessageKind.Reject or MessageKind.Piece => $"{Kind}({PieceIndex}, {Begin}, {Length})",
        MessageKind.Bitfield => $"Bitfield({Payload.Length} bytes)",
        MessageKind.Extended => $"Extended({ExtendedId}, {Payload.Length} bytes)",
        MessageKind.Port => $"Port({Port})",
        _ => Kind.ToString(),
    };
}
