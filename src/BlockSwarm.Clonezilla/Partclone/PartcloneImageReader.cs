using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using BlockSwarm.Clonezilla.Compression;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;

namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// A partclone image (format 1 or 2) read front to back from a decompressed stream: <see cref="Open(Stream, string, bool)"/>
/// parses and validates the header and the bitmap (its CRC, and in format 2 its used count against the header), then
/// <see cref="TryReadBlocks"/> hands out the used blocks' data in order, each strip's checksum verified before a byte
/// of it is handed out. Any corruption, truncation or trailing data is a <see cref="ClonezillaFormatException"/> naming
/// the image, the block and the byte offset in the decompressed stream.
/// </summary>
/// <remarks>
/// Reads go to the decompressor a few MiB at a time into one pooled buffer; checksums are checked in place and the
/// checksum bytes squeezed out by a forward copy, so nothing is allocated per block or per strip.
/// </remarks>
public sealed class PartcloneImageReader : IDisposable
{
    /// <summary>About this much is read, verified and handed out per call (whole strips; one strip when larger).</summary>
    public const int TargetChunkBytes = 4 << 20;

    /// <summary>partclone lets <c>-k</c> make a strip of any size; a strip is verified whole in memory, so it is bounded.</summary>
    public const int MaxStripBytes = 256 << 20;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly List<(long Start, long Count)> _runs;
    private readonly StripChecksum _checksum;
    private readonly int _blocksPerStrip;
    private readonly int _stripsPerChunk;
    private byte[] _buffer;
    private long[]? _usedBefore;
    private int _stride;
    private bool _strideKnown;
    private int _carryStart;
    private int _carryEnd;
    private long _blocksDone;
    private bool _ended;
    private ReadOnlyMemory<byte> _pending;

    private PartcloneImageReader(Stream stream, string name, bool leaveOpen, PartcloneHeader header, List<(long, long)> runs, long used)
    {
        _stream = stream;
        Name = name;
        _leaveOpen = leaveOpen;
        Header = header;
        _runs = runs;
        UsedBlocks = used;
        UsedExtents = ImmutableArray.Create(PartcloneBitmapReader.ToExtents(runs, header.BlockSize));
        Position = header.DataOffset;
        _checksum = new StripChecksum(header);
        _stride = header.ChecksumSize;
        _strideKnown = header.FormatVersion != 1;
        _blocksPerStrip = header.BlocksPerChecksum > 0 ? header.BlocksPerChecksum : Math.Max(1, TargetChunkBytes / header.BlockSize);
        long stripBytes = (long)_blocksPerStrip * header.BlockSize;
        _stripsPerChunk = (int)Math.Max(1, TargetChunkBytes / stripBytes);
        // Room for a chunk of strips with format 1's widest checksums, and for the two blocks its layout check reads.
        long capacity = Math.Max(_stripsPerChunk * (stripBytes + Math.Max(_stride, 8)), 2L * header.BlockSize + 16);
        _buffer = ArrayPool<byte>.Shared.Rent((int)capacity);
    }

    /// <summary>The image's name in messages (the file, or the split set, it came from).</summary>
    public string Name { get; }

    public PartcloneHeader Header { get; }

    public int BlockSize => Header.BlockSize;

    /// <summary>Size of the source partition in bytes.</summary>
    public long DeviceSize => Header.DeviceSize;

    /// <summary>Used blocks as the bitmap marks them: the blocks the data section holds.</summary>
    public long UsedBlocks { get; }

    public long UsedBytes => UsedBlocks * BlockSize;

    /// <summary>The used blocks as byte ranges from the partition start: sorted, non-overlapping, adjacent runs merged.</summary>
    public ImmutableArray<Extent> UsedExtents { get; }

    /// <summary>Used blocks handed out so far (their data, in partition order, is the first <c>BlocksRead × BlockSize</c> used bytes).</summary>
    public long BlocksRead => _blocksDone;

    /// <summary>Offset in the decompressed image just past the data (and checksums) handed out so far.</summary>
    public long Position { get; private set; }

    /// <summary>The used extents as a <see cref="BlockMap"/> of the partition.</summary>
    public BlockMap ToBlockMap() => BlockMap.FromExtents(DeviceSize, BlockSize, UsedExtents);

    /// <summary>
    /// Opens a Clonezilla partition image file (<c>sda1.ext4-ptcl-img.zst</c>, or its first split file <c>….aa</c>):
    /// split files are joined, the compression picked from the name.
    /// </summary>
    public static PartcloneImageReader Open(string path) => OpenOwned(ClonezillaImageStream.OpenDecompressed(path, out string name), name);

    /// <summary>Opens a partition's image as the directory model found it: its files in order, its compression.</summary>
    public static PartcloneImageReader Open(ClonezillaPartitionImage image) => OpenOwned(ClonezillaImageStream.OpenDecompressed(image, out string name), name);

    private static PartcloneImageReader OpenOwned(Stream stream, string name)
    {
        try
        {
            return Open(stream, name);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads and validates the header and bitmap from <paramref name="stream"/> (positioned at the image's first byte).</summary>
    public static PartcloneImageReader Open(Stream stream, string name, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        var header = PartcloneHeaderParser.Read(stream, name);
        var (runs, used) = PartcloneBitmapReader.Read(stream, header, name);
        // Format 2 counts its used blocks from the very bitmap it stores (update_used_blocks_count), so a difference is
        // corruption. Format 1 writers took the count from the superblock, and partclone restores such images after
        // recounting; so do we, keeping the header's figure in Header.UsedBlocks.
        if (header.FormatVersion == 2 && used != header.UsedBlocks)
            throw PartcloneHeaderParser.Error(name, 76, $"the bitmap marks {used} blocks used but the header says {header.UsedBlocks}");
        if (header.BlocksPerChecksum > 0 && (long)header.BlocksPerChecksum * header.BlockSize > MaxStripBytes)
            throw PartcloneHeaderParser.Error(name, 100,
                $"{header.BlocksPerChecksum} blocks per checksum make strips of {(long)header.BlocksPerChecksum * header.BlockSize} bytes; at most {MaxStripBytes} are supported");
        return new PartcloneImageReader(stream, name, leaveOpen, header, runs, used);
    }

    /// <summary>
    /// The next verified used blocks' data (whole blocks, in partition order, about <see cref="TargetChunkBytes"/>),
    /// valid until the next call; false once every used block was handed out and the stream was found to end there.
    /// </summary>
    public bool TryReadBlocks(out ReadOnlyMemory<byte> blocks)
    {
        ObjectDisposedException.ThrowIf(_ended && _buffer.Length == 0, this);
        _pending = default;
        if (_blocksDone == UsedBlocks)
        {
            CheckEnd();
            blocks = default;
            return false;
        }
        if (!_strideKnown) DetectFormat1Layout();
        blocks = ReadChunk();
        return true;
    }

    /// <summary>Copies the next used bytes into <paramref name="destination"/>; 0 at the end. Everything copied was verified.</summary>
    public int Read(Span<byte> destination)
    {
        if (_pending.IsEmpty)
        {
            if (!TryReadBlocks(out var chunk)) return 0;
            _pending = chunk;
        }
        int n = Math.Min(destination.Length, _pending.Length);
        _pending.Span[..n].CopyTo(destination);
        _pending = _pending[n..];
        return n;
    }

    private ReadOnlyMemory<byte> ReadChunk()
    {
        int bs = BlockSize;
        long remaining = UsedBlocks - _blocksDone;
        long blocks = Math.Min(remaining, (long)_stripsPerChunk * _blocksPerStrip);
        long strips = _stride == 0 ? 0 : (blocks + _blocksPerStrip - 1) / _blocksPerStrip;
        int raw = checked((int)(blocks * bs + strips * _stride));

        // Bytes read ahead last time (format 1's layout check) come first.
        int have = _carryEnd - _carryStart;
        if (have > 0 && _carryStart > 0) _buffer.AsSpan(_carryStart, have).CopyTo(_buffer);
        if (have < raw) have += _stream.ReadAtLeast(_buffer.AsSpan(have, raw - have), raw - have, throwOnEndOfStream: false);
        if (have < raw) throw Truncated(have);
        (_carryStart, _carryEnd) = (raw, have);

        Span<byte> computed = stackalloc byte[16];
        var span = _buffer.AsSpan(0, raw);
        int read = 0, write = 0;
        long first = _blocksDone;
        while (read < raw)
        {
            int count = (int)Math.Min(_blocksPerStrip, UsedBlocks - first);
            int dataBytes = count * bs;
            if (_stride > 0)
            {
                var data = span.Slice(read, dataBytes);
                var stored = span.Slice(read + dataBytes, _stride);
                var value = computed[.._checksum.Size];
                _checksum.Compute(data, bs, value);
                // Format 1's wide layout stores the CRC in an 8-byte unsigned long: its high half must be zero.
                if (!stored[..value.Length].SequenceEqual(value) || stored[value.Length..].ContainsAnyExcept((byte)0))
                    throw Mismatch(first, count, Position + read + dataBytes, stored, value);
            }
            if (write != read) span.Slice(read, dataBytes).CopyTo(span[write..]);
            read += dataBytes + _stride;
            write += dataBytes;
            first += count;
        }
        _blocksDone = first;
        Position += raw;
        return _buffer.AsMemory(0, write);
    }

    /// <summary>
    /// Format-1 images written by 64-bit partclone before 0.1.0 stored each CRC as an 8-byte unsigned long
    /// (partclone's IMAGE_FORMATS.md and 0.2's restore loop, which retried with the wider stride). The first two blocks
    /// tell the layouts apart: only one of them puts a matching CRC after the second block.
    /// </summary>
    private void DetectFormat1Layout()
    {
        _strideKnown = true;
        int bs = BlockSize;
        int want = 2 * (bs + 8);
        int have = _stream.ReadAtLeast(_buffer.AsSpan(0, want), want, throwOnEndOfStream: false);
        (_carryStart, _carryEnd) = (0, have);
        var b = _buffer.AsSpan(0, have);
        var crc = new StripChecksum.Format1Crc(bs);
        if (have < bs + 4) return;
        uint crc0 = crc.Block(0xFFFFFFFF, b[0]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[bs..]) != crc0) return;
        if (UsedBlocks == 1)
        {
            if (have == bs + 8 && BinaryPrimitives.ReadUInt32LittleEndian(b[(bs + 4)..]) == 0) _stride = 8;
            return;
        }
        if (have >= 2 * bs + 8 && BinaryPrimitives.ReadUInt32LittleEndian(b[(2 * bs + 4)..]) == crc.Block(crc0, b[bs + 4])) return;
        if (have >= 2 * bs + 16 && BinaryPrimitives.ReadUInt32LittleEndian(b[(bs + 4)..]) == 0
            && BinaryPrimitives.ReadUInt64LittleEndian(b[(2 * bs + 8)..]) == crc.Block(crc0, b[bs + 8]))
            _stride = 8;
    }

    private void CheckEnd()
    {
        if (_ended) return;
        int extra = _carryEnd - _carryStart;
        if (extra == 0) extra = _stream.Read(_buffer.AsSpan(0, 1));
        if (extra > 0)
            throw Error(Position, $"unexpected data after the last of the {UsedBlocks} used blocks");
        _ended = true;
    }

    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _ended = true;
        if (!_leaveOpen) _stream.Dispose();
    }

    private ClonezillaFormatException Truncated(int have)
    {
        long strip = (long)_blocksPerStrip * BlockSize + _stride;
        long inChunk = _stride == 0 ? have / BlockSize : have / strip * _blocksPerStrip + Math.Min(have % strip / BlockSize, _blocksPerStrip - 1);
        long index = Math.Min(_blocksDone + inChunk, UsedBlocks - 1);
        return Error(Position + have, string.Create(CultureInfo.InvariantCulture,
            $"truncated: the stream ends in used block #{index} (filesystem block {BlockNumber(index)}) of {UsedBlocks}"));
    }

    private ClonezillaFormatException Mismatch(long first, int count, long offset, ReadOnlySpan<byte> stored, ReadOnlySpan<byte> computed)
    {
        long last = first + count - 1;
        string blocks = count == 1
            ? $"used block #{first} (filesystem block {BlockNumber(first)})"
            : $"used blocks #{first}-#{last} (filesystem blocks {BlockNumber(first)}-{BlockNumber(last)})";
        return Error(offset, string.Create(CultureInfo.InvariantCulture,
            $"{Header.ChecksumMode} checksum mismatch over {blocks}: stored {Convert.ToHexStringLower(stored)}, computed {Convert.ToHexStringLower(computed)}"));
    }

    /// <summary>The filesystem block number of the <paramref name="index"/>-th used block.</summary>
    internal long BlockNumber(long index)
    {
        if (_usedBefore is null)
        {
            _usedBefore = new long[_runs.Count];
            long sum = 0;
            for (int i = 0; i < _runs.Count; i++)
            {
                _usedBefore[i] = sum;
                sum += _runs[i].Count;
            }
        }
        int at = Array.BinarySearch(_usedBefore, index);
        if (at < 0) at = ~at - 1;
        return _runs[at].Start + (index - _usedBefore[at]);
    }

    private ClonezillaFormatException Error(long offset, string what) => PartcloneHeaderParser.Error(Name, offset, what);
}
