using System.Buffers.Binary;

namespace BlockSwarm.Tracker;

/// <summary>A 20-byte peer id as a value key: no allocation and a full-width hash.</summary>
internal readonly record struct PeerKey(ulong A, ulong B, uint C)
{
    public static PeerKey From(ReadOnlySpan<byte> id) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(id),
        BinaryPrimitives.ReadUInt64LittleEndian(id[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(id[16..]));
}
