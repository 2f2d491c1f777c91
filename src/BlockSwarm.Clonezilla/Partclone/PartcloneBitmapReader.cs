using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// Reads a partclone bitmap in chunks (it is never held whole: a 16 TiB filesystem of 4 KiB blocks has a 512 MiB
/// bitmap) and turns it into merged runs of used blocks, checking its CRC-32 (format 2) or signature (format 1).
/// Runs are found a word (bits) or a vector (bytes) at a time, so a mostly empty or mostly full bitmap costs little.
/// </summary>
internal static class PartcloneBitmapReader
{
    private const int ChunkBytes = 1 << 20;
    private static ReadOnlySpan<byte> ByteBitmapSignature => "BiTmAgIc"u8;

    /// <summary>The used runs, in blocks (start, count), sorted and merged, and the number of used blocks.</summary>
    public static (List<(long Start, long Count)> Runs, long Used) Read(Stream stream, PartcloneHeader header, string name)
    {
        var runs = new RunCollector();
        switch (header.BitmapMode)
        {
            case PartcloneBitmapMode.None:
                if (header.TotalBlocks > 0) runs.Add(0, header.TotalBlocks);
                break;
            case PartcloneBitmapMode.Bit:
                ReadBits(stream, header, name, runs);
                break;
            case PartcloneBitmapMode.Byte:
                ReadBytes(stream, header, name, runs);
                break;
        }
        return (runs.Runs, runs.Used);
    }

    private static void ReadBits(Stream stream, PartcloneHeader header, string name, RunCollector runs)
    {
        long total = header.TotalBlocks;
        long length = (total + 7) / 8;
        long offset = header.Length;
        var crc = new Crc32();
        byte[] chunk = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkBytes, Math.Max(length, 8)));
        try
        {
            long done = 0;
            while (done < length)
            {
                int n = (int)Math.Min(length - done, ChunkBytes);
                Fill(stream, chunk.AsSpan(0, n), offset + done, name, "bitmap");
                crc.Append(chunk.AsSpan(0, n));
                ScanBits(chunk.AsSpan(0, n), done * 8, total, runs);
                done += n;
            }
            Span<byte> stored = stackalloc byte[4];
            Fill(stream, stored, offset + length, name, "bitmap checksum");
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(stored);
            uint computed = ~crc.GetCurrentHashAsUInt32();
            if (storedCrc != computed)
                throw PartcloneHeaderParser.Error(name, offset + length,
                    $"bitmap checksum mismatch: stored 0x{storedCrc:x8}, computed 0x{computed:x8} over the {length}-byte bitmap at byte offset {offset}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        runs.Finish(total);
    }

    /// <summary>Bits least significant first (partclone's in-memory unsigned long array, little-endian); bits past <paramref name="total"/> are ignored.</summary>
    private static void ScanBits(ReadOnlySpan<byte> bytes, long firstBlock, long total, RunCollector runs)
    {
        int whole = bytes.Length / 8;
        var words = MemoryMarshal.Cast<byte, ulong>(bytes[..(whole * 8)]);
        int i = 0;
        while (i < words.Length)
        {
            // Skip a stretch of words that change nothing (all free outside a run, all used inside one).
            int skip = words[i..].IndexOfAnyExcept(runs.InRun ? ulong.MaxValue : 0UL);
            if (skip < 0) break;
            i += skip;
            ScanWord(BitConverter.IsLittleEndian ? words[i] : BinaryPrimitives.ReverseEndianness(words[i]), firstBlock + (long)i * 64, total, runs);
            i++;
        }
        if (whole * 8 < bytes.Length)
        {
            Span<byte> last = stackalloc byte[8];
            bytes[(whole * 8)..].CopyTo(last);
            ScanWord(BinaryPrimitives.ReadUInt64LittleEndian(last), firstBlock + (long)whole * 64, total, runs);
        }
    }

    private static void ScanWord(ulong word, long wordBlock, long total, RunCollector runs)
    {
        long remaining = total - wordBlock;
        if (remaining <= 0) return;
        if (remaining < 64) word &= (1UL << (int)remaining) - 1;
        int pos = 0;
        while (pos < 64)
        {
            ulong rest = runs.InRun ? ~word >> pos : word >> pos;
            if (rest == 0) return;
            pos += BitOperations.TrailingZeroCount(rest);
            runs.Toggle(wordBlock + pos);
        }
    }

    private static void ReadBytes(Stream stream, PartcloneHeader header, string name, RunCollector runs)
    {
        long total = header.TotalBlocks;
        long offset = header.Length;
        byte[] chunk = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkBytes, Math.Max(total, 8)));
        try
        {
            long done = 0;
            while (done < total)
            {
                int n = (int)Math.Min(total - done, ChunkBytes);
                var span = chunk.AsSpan(0, n);
                Fill(stream, span, offset + done, name, "bitmap");
                // partclone counts a block as used when its byte is exactly 1 (load_image_bitmap_bytes); any other value is free.
                int pos = 0;
                while (pos < n)
                {
                    int next = runs.InRun ? span[pos..].IndexOfAnyExcept((byte)1) : span[pos..].IndexOf((byte)1);
                    if (next < 0) break;
                    pos += next;
                    runs.Toggle(done + pos);
                }
                done += n;
            }
            Span<byte> signature = stackalloc byte[8];
            Fill(stream, signature, offset + total, name, "bitmap signature");
            if (!signature.SequenceEqual(ByteBitmapSignature))
                throw PartcloneHeaderParser.Error(name, offset + total, "the byte bitmap is not followed by its signature 'BiTmAgIc'");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        runs.Finish(total);
    }

    private static void Fill(Stream stream, Span<byte> buffer, long offset, string name, string what)
    {
        int got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw PartcloneHeaderParser.Error(name, offset + got, $"truncated: the stream ends inside the {what}");
    }

    /// <summary>Collects runs from the blocks where the bitmap changes between free and used.</summary>
    private sealed class RunCollector
    {
        private long _runStart = -1;

        public List<(long Start, long Count)> Runs { get; } = [];
        public long Used { get; private set; }
        public bool InRun => _runStart >= 0;

        public void Toggle(long block)
        {
            if (_runStart < 0)
            {
                _runStart = block;
                return;
            }
            Add(_runStart, block - _runStart);
            _runStart = -1;
        }

        public void Add(long start, long count)
        {
            Runs.Add((start, count));
            Used += count;
        }

        public void Finish(long total)
        {
            if (_runStart >= 0) Toggle(total);
        }
    }

    /// <summary>Byte extents of the runs, relative to the partition start.</summary>
    public static Extent[] ToExtents(List<(long Start, long Count)> runs, int blockSize)
    {
        var extents = new Extent[runs.Count];
        for (int i = 0; i < runs.Count; i++) extents[i] = new Extent(runs[i].Start * blockSize, runs[i].Count * blockSize);
        return extents;
    }
}
