using System.Buffers;
using System.Buffers.Binary;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// Encodes messages big-endian with <see cref="BinaryPrimitives"/>, straight into the transport's buffer.
/// Nothing is allocated: headers go into <see cref="IBufferWriter{T}.GetSpan"/>, payloads are copied once.
/// </summary>
public static class MessageWriter
{
    /// <summary>Length of a piece message's header: prefix (4), id (1), index (4), begin (4).</summary>
    public const int PieceHeaderLength = 13;

    /// <summary>
    /// Writes a piece header for a block of <paramref name="blockLength"/> bytes; the caller appends the
    /// block itself right after it (e.g. copied straight from the read cache, or sent with a gather write).
    /// </summary>
    public static int WritePieceHeader(Span<byte> destination, int pieceIndex, int begin, int blockLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(9 + blockLength));
        destination[4] = (byte)MessageKind.Piece;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)pieceIndex);
        BinaryPrimitives.WriteUInt32BigEndian(destination[9..], (uint)begin);
        return PieceHeaderLength;
    }

    /// <summary>Writes the header (everything but the variable payload) of <paramref name="message"/>; returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, in OutgoingMessage message)
    {
        MessageKind kind = message.Kind;
        switch (kind)
        {
            case MessageKind.KeepAlive:
                BinaryPrimitives.WriteUInt32BigEndian(destination, 0);
                return 4;
            case MessageKind.Have:
            case MessageKind.Suggest:
            case MessageKind.AllowedFast:
                BinaryPrimitives.WriteUInt32BigEndian(destination, 5);
                destination[4] = (byte)kind;
                BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)message.PieceIndex);
                return 9;
            case MessageKind.Request:
            case MessageKind.Cancel:
            case MessageKind.Reject:
                BinaryPrimitives.WriteUInt32BigEndian(destination, 13);
                destination[4] = (byte)kind;
                BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)message.PieceIndex);
                BinaryPrimitives.WriteUInt32BigEndian(destination[9..], (uint)message.Begin);
                BinaryPrimitives.WriteUInt32BigEndian(destination[13..], (uint)message.Length);
                return 17;
            case MessageKind.Piece:
                return WritePieceHeader(destination, message.PieceIndex, message.Begin, message.BlockLength);
            case MessageKind.Bitfield:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(1 + message.Payload.Length));
                destination[4] = (byte)kind;
                return 5;
            case MessageKind.Extended:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(2 + message.Payload.Length));
                destination[4] = (byte)kind;
                destination[5] = message.ExtendedId;
                return 6;
            case MessageKind.Port:
                BinaryPrimitives.WriteUInt32BigEndian(destination, 3);
                destination[4] = (byte)kind;
                BinaryPrimitives.WriteUInt16BigEndian(destination[5..], message.Port);
                return 7;
            case MessageKind.Choke:
            case MessageKind.Unchoke:
            case MessageKind.Interested:
            case MessageKind.NotInterested:
            case MessageKind.HaveAll:
            case MessageKind.HaveNone:
                BinaryPrimitives.WriteUInt32BigEndian(destination, 1);
                destination[4] = (byte)kind;
                return 5;
            default:
                throw new ArgumentException($"cannot encode message kind {kind}", nameof(message));
        }
    }

    /// <summary>Writes the whole message into <paramref name="destination"/>; returns the bytes written (<see cref="OutgoingMessage.WireLength"/>).</summary>
    public static int Write(Span<byte> destination, in OutgoingMessage message)
    {
        if (message.File != null) throw new ArgumentException("a piece sent from a file is written by the transport, not into a span", nameof(message));
        int header = WriteHeader(destination, message);
        message.Payload.Span.CopyTo(destination[header..]);
        return header + message.Payload.Length;
    }

    /// <summary>Writes the whole message into <paramref name="writer"/> (one header span, then the payload copied once).</summary>
    public static void Write(IBufferWriter<byte> writer, in OutgoingMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> span = writer.GetSpan(17);
        int header = WriteHeader(span, message);
        writer.Advance(header);
        if (message.File is { } file)
        {
            // No sendfile on this transport (TLS, a test pipe): read the run into the buffer.
            foreach (var (offset, length) in file.Regions)
            {
                Span<byte> into = writer.GetSpan(length)[..length];
                int read = RandomAccess.Read(file.File.SafeFileHandle, into, offset);
                if (read != length) throw new IOException($"{file.File.Name}: short read, {read} of {length} bytes at {offset}");
                writer.Advance(length);
            }
        }
        else if (!message.Payload.IsEmpty)
        {
            writer.Write(message.Payload.Span);
        }
    }

    public static void WriteKeepAlive(IBufferWriter<byte> writer) => Write(writer, OutgoingMessage.KeepAlive);

    public static void WriteHave(IBufferWriter<byte> writer, int pieceIndex) => Write(writer, OutgoingMessage.Have(pieceIndex));

    public static void WriteRequest(IBufferWriter<byte> writer, int pieceIndex, int begin, int length)
        => Write(writer, OutgoingMessage.Request(pieceIndex, begin, length));

    /// <summary>A piece message: 13-byte header, then <paramref name="block"/> copied once.</summary>
    public static void WritePiece(IBufferWriter<byte> writer, int pieceIndex, int begin, ReadOnlySpan<byte> block)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> span = writer.GetSpan(PieceHeaderLength);
        WritePieceHeader(span, pieceIndex, begin, block.Length);
        writer.Advance(PieceHeaderLength);
        writer.Write(block);
    }

    /// <summary>A bitfield message straight from a <see cref="Bitfield"/>, without an intermediate array.</summary>
    public static void WriteBitfield(IBufferWriter<byte> writer, Bitfield bitfield)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(bitfield);
        int n = bitfield.ByteLength;
        Span<byte> span = writer.GetSpan(5 + n);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(1 + n));
        span[4] = (byte)MessageKind.Bitfield;
        bitfield.CopyTo(span.Slice(5, n));
        writer.Advance(5 + n);
    }

    public static void WriteExtended(IBufferWriter<byte> writer, byte extendedId, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> span = writer.GetSpan(6);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(2 + payload.Length));
        span[4] = (byte)MessageKind.Extended;
        span[5] = extendedId;
        writer.Advance(6);
        writer.Write(payload);
    }
}
