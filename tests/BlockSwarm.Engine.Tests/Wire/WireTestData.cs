using System.Buffers;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Tests.Wire;

internal static class WireTestData
{
    public const int PieceCount = 21; // 3 bitfield bytes, 3 spare bits

    public static MessageLimits Limits { get; } = new(PieceCount);

    public static byte[] Encode(params OutgoingMessage[] messages)
    {
        var writer = new ArrayBufferWriter<byte>();
        foreach (var m in messages) MessageWriter.Write(writer, m);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Splits <paramref name="data"/> into a multi-segment sequence of <paramref name="segment"/>-byte pieces.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, int segment)
    {
        if (data.Length == 0) return ReadOnlySequence<byte>.Empty;
        Segment? head = null, tail = null;
        for (int i = 0; i < data.Length; i += segment)
        {
            var mem = data.AsMemory(i, Math.Min(segment, data.Length - i));
            if (head is null) head = tail = new Segment(mem, 0);
            else tail = tail!.Append(mem);
        }
        return new ReadOnlySequence<byte>(head!, 0, tail!, tail!.Memory.Length);
    }

    public static List<OutgoingMessage> AllKinds()
    {
        var bits = new Bitfield(PieceCount);
        bits.Set(0);
        bits.Set(20);
        return
        [
            OutgoingMessage.KeepAlive,
            OutgoingMessage.Choke,
            OutgoingMessage.Unchoke,
            OutgoingMessage.Interested,
            OutgoingMessage.NotInterested,
            OutgoingMessage.Have(7),
            OutgoingMessage.Bitfield(bits),
            OutgoingMessage.Request(3, 16384, 16384),
            OutgoingMessage.Piece(20, 32768, Enumerable.Range(0, 16384).Select(i => (byte)i).ToArray()),
            OutgoingMessage.Cancel(3, 16384, 16384),
            OutgoingMessage.PortMessage(6881),
            OutgoingMessage.Suggest(1),
            OutgoingMessage.HaveAll,
            OutgoingMessage.HaveNone,
            OutgoingMessage.Reject(2, 0, 100),
            OutgoingMessage.AllowedFast(19),
            OutgoingMessage.Extended(0, "d1:md6:ut_pexi1eee"u8.ToArray()),
            OutgoingMessage.Extended(3, Array.Empty<byte>()),
        ];
    }

    public static void AssertSame(OutgoingMessage expected, PeerMessage actual)
    {
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.WireLength, actual.WireLength);
        switch (expected.Kind)
        {
            case MessageKind.Have or MessageKind.Suggest or MessageKind.AllowedFast:
                Assert.Equal(expected.PieceIndex, actual.PieceIndex);
                break;
            case MessageKind.Request or MessageKind.Cancel or MessageKind.Reject:
                Assert.Equal((expected.PieceIndex, expected.Begin, expected.Length), (actual.PieceIndex, actual.Begin, actual.Length));
                break;
            case MessageKind.Piece:
                Assert.Equal((expected.PieceIndex, expected.Begin, expected.Payload.Length), (actual.PieceIndex, actual.Begin, actual.Length));
                Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
                break;
            case MessageKind.Bitfield:
                Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
                break;
            case MessageKind.Extended:
                Assert.Equal(expected.ExtendedId, actual.ExtendedId);
                Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
                break;
            case MessageKind.Port:
                Assert.Equal(expected.Port, actual.Port);
                break;
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
