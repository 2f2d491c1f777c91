using System.Buffers.Binary;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// Follows the BitTorrent byte stream as it is received — a 68-byte handshake, then frames of a 4-byte
/// big-endian length and that many bytes — only to know how many bytes the frame in progress still lacks.
/// The receive pump sets the socket's low-water mark (SO_RCVLOWAT) to that, so the kernel wakes it once per
/// frame instead of once per TCP segment: a 16 KiB block on a rate-limited link arrives as about twelve
/// segments, each a wake-up, a read and a parse attempt that can do nothing until the frame is whole.
/// </summary>
/// <remarks>
/// Safe because a peer that started a frame must send all of it (or hang up, which wakes the reader too); the
/// mark is never above what the frame in progress still owes. A stream that is not BitTorrent (or a bad
/// handshake) is rejected by the parser on its first bytes; the mark is capped regardless.
/// </remarks>
public struct FrameBoundaryTracker
{
    /// <summary>Handshake: pstrlen (1) + "BitTorrent protocol" (19) + reserved (8) + info-hash (20) + peer id (20).</summary>
    public const int HandshakeLength = 68;

    private long _payloadLeft;  // bytes of the current handshake/frame payload not yet seen
    private int _prefixHave;    // length-prefix bytes seen of the next frame (0–3)
    private uint _prefix;

    public static FrameBoundaryTracker AfterConnect() => new() { _payloadLeft = HandshakeLength };

    /// <summary>Bytes still owed by the frame in progress; 0 at a frame boundary or inside a length prefix.</summary>
    public readonly long BytesToFrameEnd => _payloadLeft;

    /// <summary>Accounts for bytes just received, in order.</summary>
    public void Advance(ReadOnlySpan<byte> received)
    {
        while (!received.IsEmpty)
        {
            if (_payloadLeft > 0)
            {
                int skip = (int)Math.Min(_payloadLeft, received.Length);
                _payloadLeft -= skip;
                received = received[skip..];
                continue;
            }
            if (_prefixHave == 0 && received.Length >= 4)
            {
                _payloadLeft = BinaryPrimitives.ReadUInt32BigEndian(received);
                received = received[4..];
                continue;
            }
            _prefix = (_prefix << 8) | received[0];
            received = received[1..];
            if (++_prefixHave == 4)
            {
                _payloadLeft = _prefix;
                _prefix = 0;
                _prefixHave = 0;
            }
        }
    }

    /// <summary>The low-water mark to wait for: the rest of the frame in progress, between 1 and <paramref name="max"/>.</summary>
    public readonly int LowWaterMark(int max) => (int)Math.Clamp(_payloadLeft, 1, Math.Max(1, max));
}
