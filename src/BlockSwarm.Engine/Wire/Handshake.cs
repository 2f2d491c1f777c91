using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// The BEP 3 handshake: pstrlen 19, "BitTorrent protocol", 8 reserved bytes, 20-byte info-hash,
/// 20-byte peer id (68 bytes). Sent once per connection, so this is an ordinary immutable class.
/// </summary>
public sealed class Handshake
{
    public const int Length = 68;
    public const int InfoHashLength = 20;

    /// <summary>Reserved bytes read as a big-endian ulong: byte 7 bit 0x04 = Fast extension (BEP 6).</summary>
    public const ulong FastExtensionBit = 0x04;

    /// <summary>Byte 5 bit 0x10 = extension protocol (BEP 10).</summary>
    public const ulong ExtensionProtocolBit = 0x10UL << 16;

    private readonly byte[] _infoHash;
    private readonly byte[] _peerId;

    public Handshake(ReadOnlySpan<byte> infoHash, ReadOnlySpan<byte> peerId, ulong reserved)
    {
        if (infoHash.Length != InfoHashLength)
            throw new ArgumentException($"info-hash must be {InfoHashLength} bytes, got {infoHash.Length}", nameof(infoHash));
        if (peerId.Length != PeerId.Length)
            throw new ArgumentException($"peer id must be {PeerId.Length} bytes, got {peerId.Length}", nameof(peerId));
        _infoHash = infoHash.ToArray();
        _peerId = peerId.ToArray();
        Reserved = reserved;
    }

    /// <summary>Our usual handshake: advertises the Fast extension and the extension protocol.</summary>
    public static Handshake Create(ReadOnlySpan<byte> infoHash, ReadOnlySpan<byte> peerId, bool fastExtension = true, bool extensionProtocol = true)
        => new(infoHash, peerId, (fastExtension ? FastExtensionBit : 0) | (extensionProtocol ? ExtensionProtocolBit : 0));

    /// <summary>"BitTorrent protocol".</summary>
    public static ReadOnlySpan<byte> ProtocolName => "BitTorrent protocol"u8;

    public ReadOnlySpan<byte> InfoHash => _infoHash;
    public ReadOnlySpan<byte> PeerIdBytes => _peerId;

    /// <summary>The 8 reserved bytes, big-endian.</summary>
    public ulong Reserved { get; }

    public bool SupportsFastExtension => (Reserved & FastExtensionBit) != 0;
    public bool SupportsExtensionProtocol => (Reserved & ExtensionProtocolBit) != 0;

    /// <summary>Writes the 68-byte wire form.</summary>
    public int Encode(Span<byte> destination)
    {
        if (destination.Length < Length) throw new ArgumentException("destination too short", nameof(destination));
        destination[0] = (byte)ProtocolName.Length;
        ProtocolName.CopyTo(destination[1..]);
        BinaryPrimitives.WriteUInt64BigEndian(destination[20..], Reserved);
        _infoHash.CopyTo(destination[28..]);
        _peerId.CopyTo(destination[48..]);
        return Length;
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        Encode(bytes);
        return bytes;
    }

    /// <summary>
    /// Decodes a handshake from the front of <paramref name="buffer"/> and slices it off.
    /// Returns false when more bytes are needed. Throws <see cref="PeerProtocolException"/> as soon as
    /// the bytes present show a different protocol (wrong pstrlen or string), without waiting for the rest.
    /// </summary>
    public static bool TryDecode(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out Handshake? handshake)
    {
        handshake = null;
        if (buffer.IsEmpty) return false;
        Span<byte> bytes = stackalloc byte[Length];
        int available = (int)Math.Min(buffer.Length, Length);
        buffer.Slice(0, available).CopyTo(bytes);
        if (bytes[0] != ProtocolName.Length)
            throw new PeerProtocolException($"handshake: protocol string length {bytes[0]}, expected {ProtocolName.Length} (\"BitTorrent protocol\")");
        int nameBytes = Math.Min(available - 1, ProtocolName.Length);
        if (!bytes.Slice(1, nameBytes).SequenceEqual(ProtocolName[..nameBytes]))
            throw new PeerProtocolException("handshake: protocol string is not \"BitTorrent protocol\"");
        if (available < Length) return false;
        handshake = new Handshake(bytes.Slice(28, InfoHashLength), bytes.Slice(48, PeerId.Length), BinaryPrimitives.ReadUInt64BigEndian(bytes[20..]));
        buffer = buffer.Slice(Length);
        return true;
    }

    /// <summary>Decodes exactly one handshake; throws <see cref="PeerProtocolException"/> when incomplete or wrong.</summary>
    public static Handshake Decode(ReadOnlySpan<byte> data)
    {
        var seq = new ReadOnlySequence<byte>(data.ToArray());
        if (!TryDecode(ref seq, out var handshake)) throw new PeerProtocolException($"handshake: {data.Length} bytes, expected {Length}");
        return handshake;
    }

    public override string ToString()
        => $"Handshake(info-hash {Convert.ToHexStringLower(_infoHash)}, peer {Convert.ToHexStringLower(_peerId)}, reserved {Reserved:x16})";
}
