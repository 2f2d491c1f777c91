using System.Buffers;
using System.Buffers.Binary;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// Scans length-prefixed frames off the front of a receive buffer and decodes them into
/// <see cref="PeerMessage"/> views. Every length is checked as soon as the 4-byte prefix and the
/// id are in, before waiting for (and so buffering) the body: an oversized or wrongly sized frame is a
/// <see cref="PeerProtocolException"/>, never a large buffer. Allocation-free; stateless once built.
/// </summary>
public sealed class MessageReader
{
    // Prefix (4) + id (1) + up to three 4-byte fields (12): all a header ever needs.
    private const int MaxHeaderLength = 17;

    private readonly int _pieceCount;
    private readonly int _bitfieldLength;
    private readonly int _maxBlockLength;
    private readonly int _maxExtendedLength;
    private readonly int _maxFrameLength;

    public MessageReader(MessageLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Limits = limits;
        _pieceCount = limits.PieceCount;
        _bitfieldLength = limits.BitfieldLength;
        _maxBlockLength = limits.MaxBlockLength;
        _maxExtendedLength = limits.MaxExtendedLength;
        _maxFrameLength = limits.MaxFrameLength;
    }

    public MessageLimits Limits { get; }

    /// <summary>
    /// Decodes the frame at the front of <paramref name="buffer"/> and slices it off; returns false when
    /// the frame is not complete yet (buffer unchanged). Unknown ids come back with
    /// <see cref="PeerMessage.IsKnown"/> false so the caller can ignore them (BEP 3).
    /// </summary>
    /// <exception cref="PeerProtocolException">The frame can never be valid.</exception>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out PeerMessage message)
    {
        message = default;
        long available = buffer.Length;
        if (available < 4) return false;

        ReadOnlySpan<byte> first = buffer.FirstSpan;
        Span<byte> scratch = stackalloc byte[MaxHeaderLength];
        scoped ReadOnlySpan<byte> header;
        if (first.Length >= MaxHeaderLength || first.Length == available)
        {
            header = first;
        }
        else
        {
            int n = (int)Math.Min(available, MaxHeaderLength);
            buffer.Slice(0, n).CopyTo(scratch);
            header = scratch[..n];
        }

        uint frameLength = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (frameLength == 0)
        {
            message = new PeerMessage(MessageKind.KeepAlive, 4);
            buffer = buffer.Slice(4);
            return true;
        }
        if (frameLength > (uint)_maxFrameLength)
            throw new PeerProtocolException($"frame of {frameLength} bytes exceeds the limit of {_maxFrameLength}");
        if (header.Length < 5) return false;

        var kind = (MessageKind)header[4];
        int length = (int)frameLength;
        CheckLength(kind, length);
        if (available < 4 + (long)length) return false;

        int wire = 4 + length;
        switch (kind)
        {
            case MessageKind.Choke:
            case MessageKind.Unchoke:
            case MessageKind.Interested:
            case MessageKind.NotInterested:
            case MessageKind.HaveAll:
            case MessageKind.HaveNone:
                message = new PeerMessage(kind, wire);
                break;
            case MessageKind.Have:
            case MessageKind.Suggest:
            case MessageKind.AllowedFast:
                message = new PeerMessage(kind, wire, index: ReadPieceIndex(header[5..], kind));
                break;
            case MessageKind.Request:
            case MessageKind.Cancel:
            case MessageKind.Reject:
                {
                    int index = ReadPieceIndex(header[5..], kind);
                    int begin = ReadOffset(header[9..], kind);
                    uint requested = BinaryPrimitives.ReadUInt32BigEndian(header[13..]);
                    if (requested == 0 || requested > (uint)_maxBlockLength)
                        throw new PeerProtocolException($"{kind}: length {requested} is outside 1..{_maxBlockLength}");
                    message = new PeerMessage(kind, wire, index, begin, (int)requested);
                    break;
                }
            case MessageKind.Piece:
                {
                    int index = ReadPieceIndex(header[5..], kind);
                    int begin = ReadOffset(header[9..], kind);
                    message = new PeerMessage(kind, wire, index, begin, length - 9, payload: buffer.Slice(13, length - 9));
                    break;
                }
            case MessageKind.Bitfield:
                {
                    var bits = buffer.Slice(5, length - 1);
                    int spare = _bitfieldLength * 8 - _pieceCount;
                    if (spare != 0)
                    {
                        byte last = bits.Slice(bits.Length - 1).FirstSpan[0];
                        if ((last & ((1 << spare) - 1)) != 0)
                            throw new PeerProtocolException($"bitfield has spare bits set past the last piece {_pieceCount - 1}");
                    }
                    message = new PeerMessage(kind, wire, payload: bits);
                    break;
                }
            case MessageKind.Extended:
                message = new PeerMessage(kind, wire, extendedId: header[5], payload: buffer.Slice(6, length - 2));
                break;
            case MessageKind.Port:
                message = new PeerMessage(kind, wire, index: BinaryPrimitives.ReadUInt16BigEndian(header[5..]));
                break;
            default:
                // Unknown id: length already bounded; hand it up so the caller can ignore it.
                message = new PeerMessage(kind, wire, payload: buffer.Slice(5, length - 1));
                break;
        }
        buffer = buffer.Slice(wire);
        return true;
    }

    private void CheckLength(MessageKind kind, int length)
    {
        bool ok = kind switch
        {
            MessageKind.Choke or MessageKind.Unchoke or MessageKind.Interested or MessageKind.NotInterested
                or MessageKind.HaveAll or MessageKind.HaveNone => length == 1,
            MessageKind.Have or MessageKind.Suggest or MessageKind.AllowedFast => length == 5,
            MessageKind.Request or MessageKind.Cancel or MessageKind.Reject => length == 13,
            MessageKind.Piece => length > 9 && length <= 9 + _maxBlockLength,
            MessageKind.Bitfield => length == 1 + _bitfieldLength,
            MessageKind.Port => length == 3,
            MessageKind.Extended => length >= 2 && length <= 2 + _maxExtendedLength,
            _ => true,
        };
        if (!ok) throw new PeerProtocolException($"{DescribeKind(kind)}: frame length {length} is not valid for this message (torrent of {_pieceCount} pieces)");
    }

    private int ReadPieceIndex(ReadOnlySpan<byte> field, MessageKind kind)
    {
        uint index = BinaryPrimitives.ReadUInt32BigEndian(field);
        if (index >= (uint)_pieceCount)
            throw new PeerProtocolException($"{kind}: piece index {index} out of range (torrent has {_pieceCount} pieces)");
        return (int)index;
    }

    private static int ReadOffset(ReadOnlySpan<byte> field, MessageKind kind)
    {
        uint begin = BinaryPrimitives.ReadUInt32BigEndian(field);
        if (begin > int.MaxValue) throw new PeerProtocolException($"{kind}: offset {begin} out of range");
        return (int)begin;
    }

    private static string DescribeKind(MessageKind kind)
        => PeerMessage.IsKnownKind(kind) ? kind.ToString() : $"message id {(byte)kind}";
}
