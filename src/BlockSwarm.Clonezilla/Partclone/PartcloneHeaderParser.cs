using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// Reads and validates a partclone header (formats 1 and 2). Offsets and sizes are partclone's packed structs
/// (<c>image_desc_v1</c>: head 36 + fs_info 28 + options 4096 = 4160 bytes; <c>image_desc_v2</c>: head 36 +
/// fs_info 52 + options 18 + crc 4 = 110 bytes), little-endian. Every refusal names the field's byte offset.
/// </summary>
internal static class PartcloneHeaderParser
{
    public const int Format1Length = 4160;
    public const int Format2Length = 110;

    /// <summary>partclone's MAX_BLOCK_SIZE: larger values are corruption, not a filesystem.</summary>
    public const int MaxBlockSize = 64 << 20;

    /// <summary>partclone refuses more blocks than a 1 TiB bitmap holds; so do we.</summary>
    public const long MaxTotalBlocks = 8L << 40;

    private const int PrefixLength = 36;
    private static ReadOnlySpan<byte> Magic => "partclone-image"u8;

    /// <summary>Every filesystem name partclone has written into a header (partclone.h's *_MAGIC, fatclone's FAT12/16/32).</summary>
    private static readonly FrozenSet<string> s_fileSystems = FrozenSet.Create(StringComparer.Ordinal,
        "EXTFS", "EXT2", "EXT3", "EXT4", "REISERFS", "REISER4", "XFS", "HFS Plus", "FAT", "FAT12", "FAT16", "FAT32",
        "EXFAT", "NTFS", "UFS", "VMFS", "JFS", "BTRFS", "MINIX", "F2FS", "NILFS", "APFS", "raw");

    public static PartcloneHeader Read(Stream stream, string name)
    {
        Span<byte> buffer = stackalloc byte[Format2Length];
        Fill(stream, buffer[..PrefixLength], 0, name);
        if (!buffer[..Magic.Length].SequenceEqual(Magic))
            throw Error(name, 0, $"not a partclone image: no 'partclone-image' signature (found '{Printable(buffer[..Magic.Length])}')");
        var version = buffer.Slice(30, 4);
        if (version.SequenceEqual("0001"u8)) return ReadFormat1(stream, name, buffer[..PrefixLength]);
        if (version.SequenceEqual("0002"u8))
        {
            Fill(stream, buffer[PrefixLength..], PrefixLength, name);
            return ParseFormat2(buffer, name);
        }
        throw Error(name, 30, $"partclone image format '{Printable(version)}' is not supported (formats 0001 and 0002 are)");
    }

    private static PartcloneHeader ReadFormat1(Stream stream, string name, ReadOnlySpan<byte> prefix)
    {
        // fs_info_v1 (28 bytes) follows the prefix; the 4096-byte options buffer after it holds nothing format 1 reads.
        Span<byte> info = stackalloc byte[28];
        Fill(stream, info, PrefixLength, name);
        SkipExactly(stream, Format1Length - PrefixLength - info.Length, PrefixLength + info.Length, name);
        string fs = Text(prefix.Slice(15, 15));
        int blockSize = BinaryPrimitives.ReadInt32LittleEndian(info);
        ulong deviceSize = BinaryPrimitives.ReadUInt64LittleEndian(info[4..]);
        ulong total = BinaryPrimitives.ReadUInt64LittleEndian(info[12..]);
        ulong used = BinaryPrimitives.ReadUInt64LittleEndian(info[20..]);
        CheckGeometry(name, fs, 15, blockSize, 36, deviceSize, 40, total, 48, used, 56);
        return new PartcloneHeader
        {
            FormatVersion = 1,
            FileSystem = fs,
            BlockSize = blockSize,
            DeviceSize = (long)deviceSize,
            TotalBlocks = (long)total,
            UsedBlocks = (long)used,
            // partclone's set_image_options_v1: what every format-1 image implies.
            ChecksumMode = PartcloneChecksumMode.Crc32Format1,
            ChecksumSize = 4,
            BlocksPerChecksum = 1,
            ReseedChecksum = false,
            BitmapMode = PartcloneBitmapMode.Byte,
            Length = Format1Length,
        };
    }

    private static PartcloneHeader ParseFormat2(ReadOnlySpan<byte> h, string name)
    {
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(h[106..]);
        uint computed = PartcloneCrc32.Compute(h[..106]);
        if (stored != computed)
            throw Error(name, 106, $"header checksum mismatch: stored 0x{stored:x8}, computed 0x{computed:x8} over bytes 0-105");
        ushort endian = BinaryPrimitives.ReadUInt16LittleEndian(h[34..]);
        if (endian == 0xDEC0)
            throw Error(name, 34, "the image was written on a big-endian machine; only little-endian images are supported");
        if (endian != 0xC0DE)
            throw Error(name, 34, $"endianness marker 0x{endian:x4} is neither 0xC0DE nor 0xDEC0");
        string fs = Text(h.Slice(36, 16));
        ulong deviceSize = BinaryPrimitives.ReadUInt64LittleEndian(h[52..]);
        ulong total = BinaryPrimitives.ReadUInt64LittleEndian(h[60..]);
        ulong superUsed = BinaryPrimitives.ReadUInt64LittleEndian(h[68..]);
        ulong used = BinaryPrimitives.ReadUInt64LittleEndian(h[76..]);
        uint blockSize = BinaryPrimitives.ReadUInt32LittleEndian(h[84..]);
        ushort imageVersion = BinaryPrimitives.ReadUInt16LittleEndian(h[92..]);
        ushort cpuBits = BinaryPrimitives.ReadUInt16LittleEndian(h[94..]);
        ushort checksumMode = BinaryPrimitives.ReadUInt16LittleEndian(h[96..]);
        ushort checksumSize = BinaryPrimitives.ReadUInt16LittleEndian(h[98..]);
        uint perChecksum = BinaryPrimitives.ReadUInt32LittleEndian(h[100..]);
        byte reseed = h[104];
        byte bitmapMode = h[105];
        CheckGeometry(name, fs, 36, blockSize > int.MaxValue ? -1 : (int)blockSize, 84, deviceSize, 52, total, 60, used, 76);
        if (imageVersion != 2)
            throw Error(name, 92, $"binary image version {imageVersion} disagrees with the text version 0002");
        var mode = (PartcloneChecksumMode)checksumMode;
        int expectedSize = mode switch
        {
            PartcloneChecksumMode.None => 0,
            PartcloneChecksumMode.Crc32 => 4,
            PartcloneChecksumMode.XxHash64 => 8,
            PartcloneChecksumMode.XxHash128 => 16,
            _ => throw Error(name, 96, $"checksum mode 0x{checksumMode:x2} is not one partclone writes (0x00 none, 0x20 CRC32, 0x30 XXH64, 0x31 XXH128)"),
        };
        if (checksumSize != expectedSize)
            throw Error(name, 98, $"checksum size {checksumSize} does not match checksum mode {mode} ({expectedSize} bytes)");
        if (mode != PartcloneChecksumMode.None && perChecksum == 0)
            throw Error(name, 100, "blocks per checksum is 0 with checksums on");
        if (mode != PartcloneChecksumMode.None && perChecksum > int.MaxValue)
            throw Error(name, 100, $"blocks per checksum {perChecksum} is out of range");
        if (reseed > 1)
            throw Error(name, 104, $"reseed flag {reseed} is neither 0 nor 1");
        var bitmap = (PartcloneBitmapMode)bitmapMode;
        if (bitmap is not (PartcloneBitmapMode.Bit or PartcloneBitmapMode.None))
            throw Error(name, 105, bitmap == PartcloneBitmapMode.Byte
                ? "a byte bitmap in a format-2 image is not supported (partclone writes format 2 with a bit bitmap)"
                : $"bitmap mode 0x{bitmapMode:x2} is unknown");
        if (bitmap == PartcloneBitmapMode.None && used != total)
            throw Error(name, 76, $"no bitmap, yet {used} of {total} blocks are used (without a bitmap every block is)");
        return new PartcloneHeader
        {
            FormatVersion = 2,
            FileSystem = fs,
            PartcloneVersion = Text(h.Slice(16, 14)),
            BlockSize = (int)blockSize,
            DeviceSize = (long)deviceSize,
            TotalBlocks = (long)total,
            UsedBlocks = (long)used,
            SuperBlockUsedBlocks = superUsed > long.MaxValue ? null : (long)superUsed,
            ChecksumMode = mode,
            ChecksumSize = checksumSize,
            BlocksPerChecksum = mode == PartcloneChecksumMode.None ? 0 : (int)perChecksum,
            ReseedChecksum = reseed == 1,
            BitmapMode = bitmap,
            CpuBits = cpuBits,
            Length = Format2Length,
        };
    }

    private static void CheckGeometry(string name, string fs, int fsAt, int blockSize, int blockSizeAt, ulong deviceSize, int deviceAt,
        ulong total, int totalAt, ulong used, int usedAt)
    {
        if (!s_fileSystems.Contains(fs))
            throw Error(name, fsAt, $"unknown filesystem '{fs}' (partclone writes {string.Join(", ", s_fileSystems.Order(StringComparer.Ordinal))})");
        if (blockSize <= 0 || blockSize > MaxBlockSize)
            throw Error(name, blockSizeAt, $"block size {blockSize} is out of range (1 B to 64 MiB)");
        if (total > MaxTotalBlocks)
            throw Error(name, totalAt, $"total block count {total} is out of range");
        if (used > total)
            throw Error(name, usedAt, $"used block count {used} exceeds the total block count {total}");
        if (deviceSize > long.MaxValue || total * (ulong)blockSize > deviceSize)
            throw Error(name, deviceAt, $"device size {deviceSize} is smaller than {total} blocks of {blockSize} bytes");
    }

    private static void Fill(Stream stream, Span<byte> buffer, long offset, string name)
    {
        int got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw Error(name, offset + got, "truncated: the stream ends inside the partclone header");
    }

    private static void SkipExactly(Stream stream, int count, long offset, string name)
    {
        Span<byte> scratch = stackalloc byte[1024];
        while (count > 0)
        {
            var part = scratch[..Math.Min(count, scratch.Length)];
            Fill(stream, part, offset, name);
            count -= part.Length;
            offset += part.Length;
        }
    }

    /// <summary>A NUL-padded ASCII field (it may fill its whole width, without a terminator).</summary>
    private static string Text(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return Printable(end < 0 ? field : field[..end]);
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes) sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '?');
        return sb.ToString();
    }

    public static ClonezillaFormatException Error(string name, long offset, string what) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{name}: {what} (byte offset {offset} of the partclone stream)"));
}
