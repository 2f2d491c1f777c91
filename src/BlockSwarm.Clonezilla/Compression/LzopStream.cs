using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// Decompresses lzop's file format (what <c>lzop -c</c> writes, Clonezilla's <c>lzo</c>): a header, then blocks of
/// (uncompressed size, compressed size, checksums, LZO1X data or the bytes stored as they are), ended by a zero size;
/// several such files one after another are read as one. Every checksum the header's flags announce is verified.
/// Written here because no maintained .NET package reads lzop, and the format is small (lzop's header layout; the
/// block codec is <see cref="Lzo1xDecoder"/>).
/// </summary>
internal sealed class LzopStream : ForwardReadStream
{
    private static ReadOnlySpan<byte> Magic => [0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>lzop refuses blocks over 64 MiB; anything larger is corruption.</summary>
    private const int MaxBlockSize = 64 << 20;

    private const uint FlagAdler32Data = 0x1, FlagAdler32Compressed = 0x2, FlagExtraField = 0x40, FlagCrc32Data = 0x100,
        FlagCrc32Compressed = 0x200, FlagFilter = 0x800, FlagHeaderCrc32 = 0x1000;

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private byte[] _compressed = [];
    private byte[] _block = [];
    private int _blockStart;
    private int _blockEnd;
    private uint _flags;
    private bool _inFile;
    private bool _done;

    public LzopStream(Stream inner, bool leaveOpen = false)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
    }

    public override int Read(Span<byte> buffer)
    {
        while (_blockStart == _blockEnd)
        {
            if (_done || !NextBlock()) return 0;
        }
        int n = Math.Min(buffer.Length, _blockEnd - _blockStart);
        _block.AsSpan(_blockStart, n).CopyTo(buffer);
        _blockStart += n;
        return n;
    }

    private bool NextBlock()
    {
        if (!_inFile)
        {
            if (!ReadHeader()) return false;
            _inFile = true;
        }
        Span<byte> sizes = stackalloc byte[8];
        ReadExactly(sizes[..4], "block size");
        uint plain = BinaryPrimitives.ReadUInt32BigEndian(sizes);
        if (plain == 0)
        {
            // The end of one lzop file; another may follow.
            _inFile = false;
            _blockStart = _blockEnd = 0;
            return true;
        }
        ReadExactly(sizes[4..], "block size");
        uint packed = BinaryPrimitives.ReadUInt32BigEndian(sizes[4..]);
        if (plain > MaxBlockSize || packed > plain)
            throw new InvalidDataException($"lzop block sizes out of range: {packed} bytes to {plain}");
        bool stored = packed == plain;
        uint? dataAdler = (_flags & FlagAdler32Data) != 0 ? ReadUInt32("checksum") : null;
        uint? dataCrc = (_flags & FlagCrc32Data) != 0 ? ReadUInt32("checksum") : null;
        // Checksums of the compressed bytes are written only for blocks that were compressed.
        uint? packedAdler = !stored && (_flags & FlagAdler32Compressed) != 0 ? ReadUInt32("checksum") : null;
        uint? packedCrc = !stored && (_flags & FlagCrc32Compressed) != 0 ? ReadUInt32("checksum") : null;

        Ensure(ref _block, (int)plain);
        if (stored)
        {
            ReadExactly(_block.AsSpan(0, (int)plain), "block");
        }
        else
        {
            Ensure(ref _compressed, (int)packed);
            var input = _compressed.AsSpan(0, (int)packed);
            ReadExactly(input, "block");
            Check(packedAdler, input, adler: true, "compressed block");
            Check(packedCrc, input, adler: false, "compressed block");
            Lzo1xDecoder.Decode(input, _block.AsSpan(0, (int)plain));
        }
        var output = _block.AsSpan(0, (int)plain);
        Check(dataAdler, output, adler: true, "block");
        Check(dataCrc, output, adler: false, "block");
        _blockStart = 0;
        _blockEnd = (int)plain;
        return true;
    }

    /// <summary>Reads one file header; false at the clean end of the input (no further file).</summary>
    private bool ReadHeader()
    {
        Span<byte> magic = stackalloc byte[9];
        int got = _inner.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        if (got == 0)
        {
            _done = true;
            return false;
        }
        if (got < magic.Length || !magic.SequenceEqual(Magic)) throw new InvalidDataException("not an lzop file (bad signature)");
        // The header checksum covers everything from the version to the end of the name.
        Span<byte> h = stackalloc byte[12 + 4 + 12 + 1 + 255];
        int n = 0;
        ReadInto(h, ref n, 12); // version, library version, version needed, method, level, flags
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(h);
        ushort needed = BinaryPrimitives.ReadUInt16BigEndian(h[4..]);
        if (version < 0x0940) throw new InvalidDataException($"lzop file version {version:x4} predates 0.94 (not supported)");
        if (needed > 0x1040) throw new InvalidDataException($"lzop file needs version {needed:x4} to extract (1.04 is understood)");
        // Methods 1-3 (LZO1X-1, LZO1X-1(15), LZO1X-999) all decode with LZO1X.
        if (h[6] is < 1 or > 3) throw new InvalidDataException($"lzop method {h[6]} is not LZO1X");
        _flags = BinaryPrimitives.ReadUInt32BigEndian(h[8..]);
        if ((_flags & FlagFilter) != 0) throw new InvalidDataException("lzop filters are not supported");
        ReadInto(h, ref n, 12); // mode, mtime low, mtime high
        ReadInto(h, ref n, 1);
        ReadInto(h, ref n, h[n - 1]); // the file name
        uint stored = ReadUInt32("header checksum");
        uint computed = (_flags & FlagHeaderCrc32) != 0 ? Crc32.HashToUInt32(h[..n]) : Adler32.Compute(h[..n]);
        if (stored != computed) throw new InvalidDataException($"lzop header checksum mismatch: stored {stored:x8}, computed {computed:x8}");
        if ((_flags & FlagExtraField) != 0)
        {
            // Skipped as lzop skips it: length, bytes, checksum.
            uint length = ReadUInt32("extra field");
            if (length > 1 << 20) throw new InvalidDataException("lzop extra field out of range");
            ReadExactly(new byte[length + 4], "extra field");
        }
        return true;
    }

    private void ReadInto(Span<byte> h, ref int n, int count)
    {
        ReadExactly(h.Slice(n, count), "header");
        n += count;
    }

    private uint ReadUInt32(string what)
    {
        Span<byte> b = stackalloc byte[4];
        ReadExactly(b, what);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    private void ReadExactly(Span<byte> buffer, string what)
    {
        if (_inner.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
            throw new InvalidDataException($"lzop data ends inside a {what} (truncated)");
    }

    private static void Check(uint? stored, ReadOnlySpan<byte> data, bool adler, string what)
    {
        if (stored is not { } s) return;
        uint computed = adler ? Adler32.Compute(data) : Crc32.HashToUInt32(data);
        if (s != computed)
            throw new InvalidDataException($"lzop {what} {(adler ? "Adler-32" : "CRC-32")} mismatch: stored {s:x8}, computed {computed:x8}");
    }

    private static void Ensure(ref byte[] buffer, int size)
    {
        if (buffer.Length >= size) return;
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
        buffer = ArrayPool<byte>.Shared.Rent(size);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_block.Length > 0) ArrayPool<byte>.Shared.Return(_block);
            if (_compressed.Length > 0) ArrayPool<byte>.Shared.Return(_compressed);
            _block = _compressed = [];
            if (!_leaveOpen) _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
