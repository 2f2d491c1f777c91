using System.Buffers;
using System.Buffers.Binary;
using BlockSwarm.Engine.Wire;
using CsCheck;

namespace BlockSwarm.Engine.Tests.Wire;

public sealed class MessageCodecTests
{
    private readonly MessageReader _reader = new(WireTestData.Limits);

    [Fact]
    public void Every_message_kind_round_trips()
    {
        foreach (var message in WireTestData.AllKinds())
        {
            var bytes = WireTestData.Encode(message);
            Assert.Equal(message.WireLength, bytes.Length);
            var span = new byte[bytes.Length];
            Assert.Equal(bytes.Length, MessageWriter.Write(span, message));
            Assert.Equal(bytes, span);

            var buffer = new ReadOnlySequence<byte>(bytes);
            Assert.True(_reader.TryRead(ref buffer, out var decoded));
            Assert.True(buffer.IsEmpty);
            Assert.True(decoded.IsKnown);
            WireTestData.AssertSame(message, decoded);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Stream_of_all_kinds_decodes_across_segment_boundaries(int segment)
    {
        var messages = WireTestData.AllKinds();
        var buffer = WireTestData.Segmented(WireTestData.Encode([.. messages]), segment);
        foreach (var expected in messages)
        {
            Assert.True(_reader.TryRead(ref buffer, out var decoded));
            WireTestData.AssertSame(expected, decoded);
        }
        Assert.True(buffer.IsEmpty);
        Assert.False(_reader.TryRead(ref buffer, out _));
    }

    [Fact]
    public void Partial_frames_wait_and_leave_the_buffer_untouched()
    {
        var bytes = WireTestData.Encode(OutgoingMessage.Request(1, 2, 3));
        for (int n = 0; n < bytes.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, n);
            Assert.False(_reader.TryRead(ref buffer, out _));
            Assert.Equal(n, buffer.Length);
        }
    }

    [Fact]
    public void Piece_writer_header_matches_the_full_encoding()
    {
        var block = new byte[] { 1, 2, 3 };
        var header = new byte[MessageWriter.PieceHeaderLength];
        MessageWriter.WritePieceHeader(header, 5, 16384, block.Length);
        var writer = new ArrayBufferWriter<byte>();
        MessageWriter.WritePiece(writer, 5, 16384, block);
        Assert.Equal([.. header, .. block], writer.WrittenSpan.ToArray());
        Assert.Equal(WireTestData.Encode(OutgoingMessage.Piece(5, 16384, block)), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Bitfield_writer_matches_bitfield_wire_form()
    {
        var bits = new Bitfield(WireTestData.PieceCount);
        bits.Set(3);
        var writer = new ArrayBufferWriter<byte>();
        MessageWriter.WriteBitfield(writer, bits);
        Assert.Equal(WireTestData.Encode(OutgoingMessage.Bitfield(bits.ToBytes())), writer.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(16384 + 10)] // one byte over a 16 KiB block
    [InlineData(int.MaxValue)]
    [InlineData(uint.MaxValue)]
    public void Oversized_frame_is_rejected_from_the_prefix_alone(uint length)
    {
        var limits = new MessageLimits(WireTestData.PieceCount, maxExtendedLength: 0);
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);
        var buffer = new ReadOnlySequence<byte>(prefix); // only the prefix: nothing else arrived yet
        var reader = new MessageReader(limits);
        var ex = Assert.Throws<PeerProtocolException>(() => reader.TryRead(ref buffer, out _));
        Assert.Contains("exceeds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extension_cap_bounds_the_frame_size()
    {
        var limits = new MessageLimits(10, maxExtendedLength: 1 << 20);
        Assert.Equal(2 + (1 << 20), limits.MaxFrameLength);
        var reader = new MessageReader(limits);
        var header = new byte[6];
        BinaryPrimitives.WriteUInt32BigEndian(header, (1 << 20) + 3);
        header[4] = (byte)MessageKind.Extended;
        var buffer = new ReadOnlySequence<byte>(header);
        Assert.Throws<PeerProtocolException>(() => reader.TryRead(ref buffer, out _));
    }

    [Theory]
    [InlineData(MessageKind.Choke, 2)]
    [InlineData(MessageKind.Interested, 5)]
    [InlineData(MessageKind.Have, 4)]
    [InlineData(MessageKind.Have, 6)]
    [InlineData(MessageKind.Request, 12)]
    [InlineData(MessageKind.Request, 14)]
    [InlineData(MessageKind.Cancel, 9)]
    [InlineData(MessageKind.Reject, 17)]
    [InlineData(MessageKind.Piece, 9)]
    [InlineData(MessageKind.Piece, 8)]
    [InlineData(MessageKind.Bitfield, 3)] // 21 pieces need 3 bytes + id = 4
    [InlineData(MessageKind.Bitfield, 5)]
    [InlineData(MessageKind.Port, 2)]
    [InlineData(MessageKind.Suggest, 1)]
    [InlineData(MessageKind.HaveAll, 5)]
    [InlineData(MessageKind.AllowedFast, 13)]
    [InlineData(MessageKind.Extended, 1)]
    public void Wrong_per_type_length_is_rejected_before_the_body_arrives(MessageKind kind, int length)
    {
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        header[4] = (byte)kind;
        var buffer = new ReadOnlySequence<byte>(header); // body not there: the check must not wait for it
        Assert.Throws<PeerProtocolException>(() => _reader.TryRead(ref buffer, out _));
    }

    [Theory]
    [InlineData(MessageKind.Have)]
    [InlineData(MessageKind.Request)]
    [InlineData(MessageKind.Piece)]
    [InlineData(MessageKind.AllowedFast)]
    public void Piece_index_out_of_range_is_a_violation(MessageKind kind)
    {
        var message = kind switch
        {
            MessageKind.Have => OutgoingMessage.Have(WireTestData.PieceCount),
            MessageKind.Request => OutgoingMessage.Request(WireTestData.PieceCount, 0, 1),
            MessageKind.Piece => OutgoingMessage.Piece(WireTestData.PieceCount, 0, new byte[1]),
            _ => OutgoingMessage.AllowedFast(int.MaxValue),
        };
        var buffer = new ReadOnlySequence<byte>(WireTestData.Encode(message));
        Assert.Throws<PeerProtocolException>(() => _reader.TryRead(ref buffer, out _));
    }

    [Theory]
    [InlineData(16385)]
    [InlineData(-1)] // 0xFFFFFFFF on the wire
    public void Request_longer_than_a_block_is_a_violation(int length)
    {
        var bytes = WireTestData.Encode(OutgoingMessage.Request(0, 0, 1));
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(13), length);
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Throws<PeerProtocolException>(() => _reader.TryRead(ref buffer, out _));
    }

    [Fact]
    public void Bitfield_with_spare_bits_set_is_a_violation()
    {
        // 21 pieces: the low 3 bits of the third byte are spare.
        foreach (byte last in new byte[] { 0x01, 0x02, 0x04 })
        {
            var buffer = new ReadOnlySequence<byte>(WireTestData.Encode(OutgoingMessage.Bitfield(new byte[] { 0xFF, 0xFF, (byte)(0xF8 | last) })));
            var ex = Assert.Throws<PeerProtocolException>(() => _reader.TryRead(ref buffer, out _));
            Assert.Contains("spare", ex.Message, StringComparison.Ordinal);
        }
        var ok = new ReadOnlySequence<byte>(WireTestData.Encode(OutgoingMessage.Bitfield(new byte[] { 0xFF, 0xFF, 0xF8 })));
        Assert.True(_reader.TryRead(ref ok, out var decoded));
        Assert.Equal(21, Bitfield.FromBytes(decoded.Payload.ToArray(), 21).Count);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(0x15)]
    [InlineData(0xFF)]
    public void Unknown_ids_are_passed_through_as_unknown(byte id)
    {
        var bytes = new byte[] { 0, 0, 0, 3, id, 9, 9, 0, 0, 0, 1, 1 };
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(_reader.TryRead(ref buffer, out var unknown));
        Assert.False(unknown.IsKnown);
        Assert.Equal(7, unknown.WireLength);
        Assert.True(_reader.TryRead(ref buffer, out var next));
        Assert.Equal(MessageKind.Unchoke, next.Kind);
    }

    [Fact]
    public void Piece_frame_parsing_allocates_nothing()
    {
        // The hot receive path: scan a large buffer of piece frames and touch each block, as the
        // connection does before handing the block to the engine, which copies it once.
        var block = new byte[16384];
        var writer = new ArrayBufferWriter<byte>();
        for (int i = 0; i < 64; i++) MessageWriter.WritePiece(writer, i % WireTestData.PieceCount, i * 16384, block);
        var data = WireTestData.Segmented(writer.WrittenSpan.ToArray(), 4096);
        var destination = new byte[16384];

        long total = ParseAll(data, destination); // warm up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 10; round++) total += ParseAll(data, destination);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(11 * 64 * 16384L, total);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Piece_frame_writing_allocates_nothing()
    {
        var block = new byte[16384];
        var writer = new ArrayBufferWriter<byte>(70 * 16397);
        var message = OutgoingMessage.Piece(1, 0, block);
        MessageWriter.Write(writer, message);
        writer.ResetWrittenCount();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 64; i++) MessageWriter.Write(writer, message);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(64 * 16397, writer.WrittenCount);
    }

    private long ParseAll(ReadOnlySequence<byte> buffer, byte[] destination)
    {
        long bytes = 0;
        while (_reader.TryRead(ref buffer, out var message))
        {
            message.Payload.CopyTo(destination);
            bytes += message.Length;
        }
        return bytes;
    }

    private static readonly OutgoingMessage[] SimpleMessages =
    [
        OutgoingMessage.KeepAlive, OutgoingMessage.Choke, OutgoingMessage.Unchoke, OutgoingMessage.Interested,
        OutgoingMessage.NotInterested, OutgoingMessage.HaveAll, OutgoingMessage.HaveNone,
    ];

    private static readonly Gen<OutgoingMessage> GenMessage = Gen.OneOf(
        Gen.Int[0, 6].Select(i => SimpleMessages[i]),
        Gen.Int[0, WireTestData.PieceCount - 1].Select(OutgoingMessage.Have),
        Gen.Int[0, WireTestData.PieceCount - 1].Select(OutgoingMessage.Suggest),
        Gen.Int[0, WireTestData.PieceCount - 1].Select(OutgoingMessage.AllowedFast),
        Gen.Select(Gen.Int[0, WireTestData.PieceCount - 1], Gen.Int[0, int.MaxValue], Gen.Int[1, 16384], OutgoingMessage.Request),
        Gen.Select(Gen.Int[0, WireTestData.PieceCount - 1], Gen.Int[0, int.MaxValue], Gen.Int[1, 16384], OutgoingMessage.Cancel),
        Gen.Select(Gen.Int[0, WireTestData.PieceCount - 1], Gen.Int[0, int.MaxValue], Gen.Int[1, 16384], OutgoingMessage.Reject),
        Gen.Select(Gen.Int[0, WireTestData.PieceCount - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 16384],
            (i, b, block) => OutgoingMessage.Piece(i, b, block)),
        Gen.Select(Gen.Byte.Array[3, 3], bits => { bits[2] &= 0xF8; return OutgoingMessage.Bitfield(bits); }),
        Gen.Select(Gen.Byte, Gen.Byte.Array[0, 2048], (id, payload) => OutgoingMessage.Extended(id, payload)),
        Gen.UShort.Select(OutgoingMessage.PortMessage));

    [Fact]
    public void Property_encode_then_decode_is_identity()
    {
        Gen.Select(GenMessage.Array[1, 8], Gen.Int[1, 64]).Sample((messages, segment) =>
        {
            var buffer = WireTestData.Segmented(WireTestData.Encode(messages), segment);
            foreach (var expected in messages)
            {
                Assert.True(_reader.TryRead(ref buffer, out var decoded));
                WireTestData.AssertSame(expected, decoded);
            }
            Assert.True(buffer.IsEmpty);
        }, iter: 300);
    }

    [Fact]
    public void Property_arbitrary_bytes_only_ever_raise_the_protocol_exception()
    {
        // Random garbage, and valid streams with random bytes flipped: either frames, "need more", or a PeerProtocolException.
        var garbage = Gen.Byte.Array[0, 64];
        var mutated = Gen.Select(GenMessage.Array[1, 4], Gen.Int, Gen.Byte, (messages, position, value) =>
        {
            var bytes = WireTestData.Encode(messages);
            bytes[(int)((uint)position % (uint)bytes.Length)] = value;
            return bytes;
        });
        Gen.Select(Gen.OneOf(garbage, mutated), Gen.Int[1, 16]).Sample((bytes, segment) =>
        {
            var buffer = WireTestData.Segmented(bytes, segment);
            try
            {
                while (_reader.TryRead(ref buffer, out var message))
                    _ = message.ToString();
            }
            catch (PeerProtocolException)
            {
            }
        }, iter: 2000);
    }
}
