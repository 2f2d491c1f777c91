using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using BlockSwarm.Clonezilla.Partclone;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>
/// Writes partclone images from a partition image and a used-block bitmap, independently of the reader: format 2
/// exactly as partclone's write_image_desc/write_image_bitmap/clone loop lay it out (a test proves it byte-identical
/// to partclone's own output), in every checksum mode; and format 1 (this partclone cannot write it any more), with
/// its CRC computed by format 1's own never-advancing loop and, optionally, 64-bit partclone's 8-byte CRC fields.
/// </summary>
internal static class PartcloneEncoder
{
    /// <summary>What a format-2 image says about its source: enough to write it again in another format or mode.</summary>
    public sealed record Layout(byte[] Header, string FileSystem, int BlockSize, long DeviceSize, long TotalBlocks, long UsedBlocks, byte[] Bitmap)
    {
        public bool IsUsed(long block) => (Bitmap[block >> 3] & (1 << (int)(block & 7))) != 0;
    }

    /// <summary>Reads a format-2 image's header fields and bitmap by offset (partclone.h's image_desc_v2).</summary>
    public static Layout ReadLayout(string image)
    {
        using var f = File.OpenRead(image);
        var h = new byte[110];
        f.ReadExactly(h);
        long total = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(60));
        var bitmap = new byte[(total + 7) / 8];
        f.ReadExactly(bitmap);
        return new Layout(h, Encoding.ASCII.GetString(h, 36, 16).TrimEnd('\0'), BinaryPrimitives.ReadInt32LittleEndian(h.AsSpan(84)),
            BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(52)), total, BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(76)), bitmap);
    }

    /// <summary>Format 2 in <paramref name="mode"/>; <paramref name="usedInHeader"/> overrides the used count written (a corrupt header).</summary>
    public static void WriteFormat2(string output, Layout layout, string device, PartcloneChecksumMode mode, int blocksPerChecksum, bool reseed,
        long? usedInHeader = null)
    {
        var h = (byte[])layout.Header.Clone();
        int size = mode switch { PartcloneChecksumMode.None => 0, PartcloneChecksumMode.Crc32 => 4, PartcloneChecksumMode.XxHash64 => 8, _ => 16 };
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(76), usedInHeader ?? layout.UsedBlocks);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(96), (ushort)mode);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(98), (ushort)size);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(100), mode == PartcloneChecksumMode.None ? 0u : (uint)blocksPerChecksum);
        h[104] = reseed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(106), ~Crc32.HashToUInt32(h.AsSpan(0, 106)));
        using var o = new FileStream(output, FileMode.Create, FileAccess.Write);
        o.Write(h);
        o.Write(layout.Bitmap);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crc, ~Crc32.HashToUInt32(layout.Bitmap));
        o.Write(crc);

        var hasher = new Checksummer(mode, reseed);
        int inStrip = 0;
        foreach (var block in UsedBlocks(layout, device))
        {
            o.Write(block);
            if (mode == PartcloneChecksumMode.None) continue;
            hasher.Append(block);
            if (++inStrip == blocksPerChecksum)
            {
                o.Write(hasher.Finish());
                inStrip = 0;
            }
        }
        if (inStrip > 0) o.Write(hasher.Finish());
    }

    /// <summary>Format 1: 4160-byte header, one byte per block, "BiTmAgIc", each block followed by the running format-1 CRC.</summary>
    public static void WriteFormat1(string output, Layout layout, string device, bool wideCrc = false, long? usedInHeader = null)
    {
        var h = new byte[4160];
        "partclone-image"u8.CopyTo(h);
        Encoding.ASCII.GetBytes(layout.FileSystem).CopyTo(h, 15);
        "0001"u8.CopyTo(h.AsSpan(30));
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(36), layout.BlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(40), layout.DeviceSize);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(48), layout.TotalBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(56), usedInHeader ?? layout.UsedBlocks);
        using var o = new FileStream(output, FileMode.Create, FileAccess.Write);
        o.Write(h);
        var bytes = new byte[layout.TotalBlocks];
        for (long b = 0; b < layout.TotalBlocks; b++) bytes[b] = layout.IsUsed(b) ? (byte)1 : (byte)0;
        o.Write(bytes);
        o.Write("BiTmAgIc"u8);
        uint crc = 0xFFFFFFFF;
        var field = new byte[wideCrc ? 8 : 4];
        foreach (var block in UsedBlocks(layout, device))
        {
            o.Write(block);
            crc = Format1Crc(crc, block);
            BinaryPrimitives.WriteUInt32LittleEndian(field, crc);
            o.Write(field);
        }
    }

    /// <summary>Format 1's crc32(): the table loop with the pointer never advanced (partclone 0.2's partclone.c).</summary>
    public static uint Format1Crc(uint crc, ReadOnlySpan<byte> block)
    {
        for (int s = 0; s < block.Length; s++)
        {
            uint c = (crc ^ block[0]) & 0xff;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            crc = (crc >> 8) ^ c;
        }
        return crc;
    }

    private static IEnumerable<byte[]> UsedBlocks(Layout layout, string device)
    {
        using var d = File.OpenRead(device);
        var block = new byte[layout.BlockSize];
        for (long b = 0; b < layout.TotalBlocks; b++)
        {
            if (!layout.IsUsed(b)) continue;
            d.Position = b * layout.BlockSize;
            d.ReadExactly(block);
            yield return block;
        }
    }

    private sealed class Checksummer(PartcloneChecksumMode mode, bool reseed)
    {
        private readonly Crc32 _crc = new();
        private readonly XxHash64 _xx64 = new();
        private readonly XxHash128 _xx128 = new();

        public void Append(byte[] data)
        {
            _crc.Append(data);
            _xx64.Append(data);
            _xx128.Append(data);
        }

        public byte[] Finish()
        {
            byte[] value = mode switch
            {
                PartcloneChecksumMode.Crc32 => BitConverter.GetBytes(~_crc.GetCurrentHashAsUInt32()),
                PartcloneChecksumMode.XxHash64 => BitConverter.GetBytes(_xx64.GetCurrentHashAsUInt64()),
                _ => [.. BitConverter.GetBytes((ulong)_xx128.GetCurrentHashAsUInt128()), .. BitConverter.GetBytes((ulong)(_xx128.GetCurrentHashAsUInt128() >> 64))],
            };
            if (reseed)
            {
                _crc.Reset();
                _xx64.Reset();
                _xx128.Reset();
            }
            return value;
        }
    }
}
