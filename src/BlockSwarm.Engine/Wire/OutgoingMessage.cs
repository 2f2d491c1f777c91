using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// A message queued for sending. Small and copyable; <see cref="Payload"/> (block data, bitfield bytes,
/// extended payload) is not copied until the send loop writes it into the transport's buffer, after which
/// <see cref="PayloadOwner"/> (a cache lease, a pooled buffer) is disposed: that is the only copy on the upload path.
/// </summary>
public readonly struct OutgoingMessage
{
    private OutgoingMessage(MessageKind kind, int index = 0, int begin = 0, int length = 0, byte extendedId = 0,
        ReadOnlyMemory<byte> payload = default, IDisposable? payloadOwner = null, FileRun? file = null)
    {
        File = file;
        Kind = kind;
        PieceIndex = index;
        Begin = begin;
        Length = length;
        ExtendedId = extendedId;
        Payload = payload;
        PayloadOwner = payloadOwner;
    }

    public MessageKind Kind { get; }
    public int PieceIndex { get; }
    public int Begin { get; }

    /// <summary>Requested length (request, cancel, reject); for a piece the block length is <see cref="Payload"/>'s.</summary>
    public int Length { get; }
    public byte ExtendedId { get; }
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Released by the send loop once <see cref="Payload"/> has been copied out (or the message dropped).</summary>
    public IDisposable? PayloadOwner { get; }

    /// <summary>A piece whose block is sent from a file (<c>sendfile</c>) instead of <see cref="Payload"/>; null otherwise.</summary>
    public FileRun? File { get; }

    /// <summary>Block bytes of a piece message, from memory or from a file.</summary>
    public int BlockLength => File?.Length ?? Payload.Length;

    /// <summary>DHT port (port message).</summary>
    public ushort Port => Kind == MessageKind.Port ? (ushort)PieceIndex : (ushort)0;

    /// <summary>Block bytes counted as payload (piece data), as opposed to protocol overhead.</summary>
    public int PayloadByteCount => Kind == MessageKind.Piece ? BlockLength : 0;

    /// <summary>Bytes on the wire, length prefix included.</summary>
    public int WireLength => Kind switch
    {
        MessageKind.KeepAlive => 4,
        MessageKind.Have or MessageKind.Suggest or MessageKind.AllowedFast => 9,
        MessageKind.Request or MessageKind.Cancel or MessageKind.Reject => 17,
        MessageKind.Piece => 13 + BlockLength,
        MessageKind.Bitfield => 5 + Payload.Length,
        MessageKind.Extended => 6 + Payload.Length,
        MessageKind.Port => 7,
        _ => 5,
    };

    public static OutgoingMessage KeepAlive => new(MessageKind.KeepAlive);
    public static OutgoingMessage Choke => new(MessageKind.Choke);
    public static OutgoingMessage Unchoke => new(MessageKind.Unchoke);
    public static OutgoingMessage Interested => new(MessageKind.Interested);
    public static OutgoingMessage NotInterested => new(MessageKind.NotInterested);
    public static OutgoingMessage HaveAll => new(MessageKind.HaveAll);
    public static OutgoingMessage HaveNone => new(MessageKind.HaveNone);

    public static OutgoingMessage Have(int pieceIndex) => new(MessageKind.Have, CheckIndex(pieceIndex));
    public static OutgoingMessage Suggest(int pieceIndex) => new(MessageKind.Suggest, CheckIndex(pieceIndex));
    public static OutgoingMessage AllowedFast(int pieceIndex) => new(MessageKind.AllowedFast, CheckIndex(pieceIndex));

    public static OutgoingMessage Request(int pieceIndex, int begin, int length) => new(MessageKind.Request, CheckIndex(pieceIndex), CheckBegin(begin), CheckLength(length));
    public static OutgoingMessage Cancel(int pieceIndex, int begin, int length) => new(MessageKind.Cancel, CheckIndex(pieceIndex), CheckBegin(begin), CheckLength(length));
    public static OutgoingMessage Reject(int pieceIndex, int begin, int length) => new(MessageKind.Reject, CheckIndex(pieceIndex), CheckBegin(begin), CheckLength(length));

    /// <summary>A block; <paramref name="owner"/> (e.g. the cache's lease on the block) is disposed once the bytes are copied out.</summary>
    public static OutgoingMessage Piece(int pieceIndex, int begin, ReadOnlyMemory<byte> block, IDisposable? owner = null)
        => new(MessageKind.Piece, CheckIndex(pieceIndex), CheckBegin(begin), block.Length, payload: block, payloadOwner: owner);

    /// <summary>A block sent straight from a file: the transport uses <c>sendfile</c> where it can, else reads it in.</summary>
    public static OutgoingMessage Piece(int pieceIndex, int begin, FileRun file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new(MessageKind.Piece, CheckIndex(pieceIndex), CheckBegin(begin), file.Length, file: file);
    }

    /// <summary>Wire-form bitfield bytes (see <see cref="Engine.Bitfield.ToBytes"/>).</summary>
    public static OutgoingMessage Bitfield(ReadOnlyMemory<byte> bits, IDisposable? owner = null)
        => new(MessageKind.Bitfield, payload: bits, payloadOwner: owner);

    public static OutgoingMessage Bitfield(Engine.Bitfield bitfield)
    {
        ArgumentNullException.ThrowIfNull(bitfield);
        return Bitfield(bitfield.ToBytes());
    }

    /// <summary>BEP 10: <paramref name="extendedId"/> 0 is the extended handshake; the payload is raw (bencoded by the caller).</summary>
    public static OutgoingMessage Extended(byte extendedId, ReadOnlyMemory<byte> payload, IDisposable? owner = null)
        => new(MessageKind.Extended, extendedId: extendedId, payload: payload, payloadOwner: owner);

    public static OutgoingMessage PortMessage(ushort port) => new(MessageKind.Port, port);

    public override string ToString() => Kind switch
    {
        MessageKind.Have or MessageKind.Suggest or MessageKind.AllowedFast => $"{Kind}({PieceIndex})",
        MessageKind.Request or MessageKind.Cancel or MessageKind.Reject => $"{Kind}({PieceIndex}, {Begin}, {Length})",
        MessageKind.Piece => $"Piece({PieceIndex}, {Begin}, {BlockLength}{(File is null ? "" : ", from file")})",
        MessageKind.Bitfield => $"Bitfield({Payload.Length} bytes)",
        MessageKind.Extended => $"Extended({ExtendedId}, {Payload.Length} bytes)",
        MessageKind.Port => $"Port({Port})",
        _ => Kind.ToString(),
    };

    private static int CheckIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return index;
    }

    private static int CheckBegin(int begin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(begin);
        return begin;
    }

    private static int CheckLength(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return length;
    }
}
