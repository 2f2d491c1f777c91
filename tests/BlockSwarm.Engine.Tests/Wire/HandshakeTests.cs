using System.Buffers;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Tests.Wire;

public sealed class HandshakeTests
{
    private static readonly byte[] InfoHash = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();

    [Fact]
    public void Round_trips_with_reserved_bits()
    {
        var peerId = PeerId.Create(new Random(1));
        var ours = Handshake.Create(InfoHash, peerId);
        var bytes = ours.ToBytes();
        Assert.Equal(68, bytes.Length);
        Assert.Equal(19, bytes[0]);
        Assert.Equal("BitTorrent protocol"u8.ToArray(), bytes[1..20]);
        Assert.Equal(0x10, bytes[20 + 5]); // BEP 10
        Assert.Equal(0x04, bytes[20 + 7]); // BEP 6

        var decoded = Handshake.Decode(bytes);
        Assert.True(decoded.SupportsFastExtension);
        Assert.True(decoded.SupportsExtensionProtocol);
        Assert.Equal(InfoHash, decoded.InfoHash.ToArray());
        Assert.Equal(peerId, decoded.PeerIdBytes.ToArray());

        var plain = Handshake.Decode(Handshake.Create(InfoHash, peerId, fastExtension: false, extensionProtocol: false).ToBytes());
        Assert.False(plain.SupportsFastExtension);
        Assert.False(plain.SupportsExtensionProtocol);
    }

    [Fact]
    public void Partial_handshake_waits_across_segments()
    {
        var bytes = Handshake.Create(InfoHash, PeerId.Create(new Random(2))).ToBytes();
        for (int n = 0; n < bytes.Length; n++)
        {
            var partial = new ReadOnlySequence<byte>(bytes, 0, n);
            Assert.False(Handshake.TryDecode(ref partial, out _));
        }
        var buffer = WireTestData.Segmented([.. bytes, 0, 0, 0, 0], 3);
        Assert.True(Handshake.TryDecode(ref buffer, out var handshake));
        Assert.Equal(4, buffer.Length); // the next frame is left in place
        Assert.Equal(InfoHash, handshake.InfoHash.ToArray());
    }

    [Fact]
    public void Wrong_protocol_is_rejected_as_soon_as_it_shows()
    {
        var wrongLength = new ReadOnlySequence<byte>(new byte[] { 18 });
        Assert.Throws<PeerProtocolException>(() => Handshake.TryDecode(ref wrongLength, out _));

        var http = new ReadOnlySequence<byte>("GET / HTTP/1.1\r\n"u8.ToArray());
        Assert.Throws<PeerProtocolException>(() => Handshake.TryDecode(ref http, out _));

        var bytes = Handshake.Create(InfoHash, PeerId.Create(new Random(3))).ToBytes();
        bytes[5] = (byte)'t';
        var wrongName = new ReadOnlySequence<byte>(bytes, 0, 6); // only 6 bytes in: already wrong
        Assert.Throws<PeerProtocolException>(() => Handshake.TryDecode(ref wrongName, out _));
    }

    [Fact]
    public void Peer_id_is_azureus_style_and_deterministic_for_a_seed()
    {
        var a = PeerId.Create(new Random(42));
        var b = PeerId.Create(new Random(42));
        Assert.Equal(20, a.Length);
        Assert.Equal("-BS0100-"u8.ToArray(), a[..8]);
        Assert.Equal(a, b);
        Assert.NotEqual(a, PeerId.Create(new Random(43)));
    }
}
