using System.Buffers.Binary;
using System.IO.Hashing;

namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// Computes the checksum partclone stores after a strip of blocks, in the image's mode, carrying the state across
/// strips when the image does not reseed (partclone's <c>-K</c>, and always in format 1). The CRC-32 and xxHash modes
/// run on System.IO.Hashing's vectorized code; format 1's CRC depends only on each block's first byte (its routine
/// never advanced the pointer), which <see cref="Format1Crc"/> turns into five table look-ups per block.
/// </summary>
internal sealed class StripChecksum
{
    private readonly PartcloneChecksumMode _mode;
    private readonly bool _reseed;
    private readonly Crc32? _crc;
    private readonly XxHash64? _xx64;
    private readonly XxHash128? _xx128;
    private readonly Format1Crc? _format1;

    public StripChecksum(PartcloneHeader header)
    {
        _mode = header.ChecksumMode;
        _reseed = header.ReseedChecksum;
        if (!_reseed)
        {
            switch (_mode)
            {
                case PartcloneChecksumMode.Crc32: _crc = new Crc32(); break;
                case PartcloneChecksumMode.XxHash64: _xx64 = new XxHash64(); break;
                case PartcloneChecksumMode.XxHash128: _xx128 = new XxHash128(); break;
            }
        }
        if (_mode == PartcloneChecksumMode.Crc32Format1) _format1 = new Format1Crc(header.BlockSize);
    }

    /// <summary>Bytes of the value <see cref="Compute"/> writes (format 1's wide variant stores 8; see the reader).</summary>
    public int Size => _mode switch
    {
        PartcloneChecksumMode.None => 0,
        PartcloneChecksumMode.Crc32 or PartcloneChecksumMode.Crc32Format1 => 4,
        PartcloneChecksumMode.XxHash64 => 8,
        _ => 16,
    };

    /// <summary>Feeds one strip's blocks and writes the checksum partclone would have stored after them.</summary>
    public void Compute(ReadOnlySpan<byte> strip, int blockSize, Span<byte> checksum)
    {
        switch (_mode)
        {
            case PartcloneChecksumMode.Crc32:
                uint crc;
                if (_crc is null) crc = PartcloneCrc32.Compute(strip);
                else
                {
                    _crc.Append(strip);
                    crc = ~_crc.GetCurrentHashAsUInt32();
                }
                BinaryPrimitives.WriteUInt32LittleEndian(checksum, crc);
                break;
            case PartcloneChecksumMode.XxHash64:
                ulong h64;
                if (_xx64 is null) h64 = XxHash64.HashToUInt64(strip);
                else
                {
                    _xx64.Append(strip);
                    h64 = _xx64.GetCurrentHashAsUInt64();
                }
                BinaryPrimitives.WriteUInt64LittleEndian(checksum, h64);
                break;
            case PartcloneChecksumMode.XxHash128:
                UInt128 h128;
                if (_xx128 is null) h128 = XxHash128.HashToUInt128(strip);
                else
                {
                    _xx128.Append(strip);
                    h128 = _xx128.GetCurrentHashAsUInt128();
                }
                // partclone memcpy's XXH128_hash_t { low64, high64 }: the low half first, each little-endian.
                BinaryPrimitives.WriteUInt64LittleEndian(checksum, (ulong)h128);
                BinaryPrimitives.WriteUInt64LittleEndian(checksum[8..], (ulong)(h128 >> 64));
                break;
            case PartcloneChecksumMode.Crc32Format1:
                uint state = _format1!.State;
                for (int at = 0; at < strip.Length; at += blockSize) state = _format1.Block(state, strip[at]);
                _format1.State = state;
                BinaryPrimitives.WriteUInt32LittleEndian(checksum, state);
                break;
        }
    }

    /// <summary>
    /// Format 1's CRC over one block of <c>L</c> bytes is the CRC of its first byte <c>b</c> repeated <c>L</c> times.
    /// CRC updates are affine over GF(2): U(s, b^L) = Z(s) ⊕ U(0, b^L), with Z(s) = U(s, 0^L) linear in s. Z is kept as
    /// four byte-indexed tables and U(0, b^L) as one, built from 32 + 8 basis runs of L steps at start-up.
    /// </summary>
    internal sealed class Format1Crc
    {
        private static readonly uint[] s_table = BuildTable();
        private readonly uint[] _zero = new uint[4 * 256];
        private readonly uint[] _byte = new uint[256];

        public Format1Crc(int blockSize)
        {
            Span<uint> stateBasis = stackalloc uint[32];
            for (int bit = 0; bit < 32; bit++) stateBasis[bit] = Naive(1u << bit, 0, blockSize);
            for (int lane = 0; lane < 4; lane++)
                for (int v = 0; v < 256; v++)
                {
                    uint acc = 0;
                    for (int bit = 0; bit < 8; bit++)
                        if ((v & (1 << bit)) != 0) acc ^= stateBasis[lane * 8 + bit];
                    _zero[lane * 256 + v] = acc;
                }
            Span<uint> byteBasis = stackalloc uint[8];
            for (int bit = 0; bit < 8; bit++) byteBasis[bit] = Naive(0, (byte)(1 << bit), blockSize);
            for (int v = 0; v < 256; v++)
            {
                uint acc = 0;
                for (int bit = 0; bit < 8; bit++)
                    if ((v & (1 << bit)) != 0) acc ^= byteBasis[bit];
                _byte[v] = acc;
            }
        }

        /// <summary>The running CRC: partclone seeds it once with 0xFFFFFFFF and never reseeds in format 1.</summary>
        public uint State { get; set; } = 0xFFFFFFFF;

        public uint Block(uint state, byte first) =>
            _zero[state & 0xff] ^ _zero[256 + ((state >> 8) & 0xff)] ^ _zero[512 + ((state >> 16) & 0xff)] ^ _zero[768 + (state >> 24)] ^ _byte[first];

        /// <summary>The routine as format 1 ran it: <paramref name="value"/> fed <paramref name="count"/> times.</summary>
        public static uint Naive(uint state, byte value, int count)
        {
            for (int i = 0; i < count; i++) state = (state >> 8) ^ s_table[(state ^ value) & 0xff];
            return state;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i;
                for (int j = 0; j < 8; j++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
                table[i] = c;
            }
            return table;
        }
    }
}
