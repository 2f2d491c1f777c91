using System.Buffers.Binary;
using BlockSwarm.Clonezilla.Partclone;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>Small format-2 images of random blocks and a random bitmap, for tests that need no filesystem tools.</summary>
internal static class SyntheticImage
{
    /// <summary>Writes the partition (<c>IMAGE.dev</c>) and its partclone image; returns the image's path.</summary>
    public static string Write(string image, int blockSize, long totalBlocks, int seed, PartcloneChecksumMode mode = PartcloneChecksumMode.Crc32,
        int perChecksum = 64, bool reseed = true, long? usedInHeader = null)
    {
        var layout = Layout(blockSize, totalBlocks, seed);
        var device = image + ".dev";
        var data = new byte[blockSize * totalBlocks];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(device, data);
        PartcloneEncoder.WriteFormat2(image, layout, device, mode, perChecksum, reseed, usedInHeader);
        return image;
    }

    public static PartcloneEncoder.Layout Layout(int blockSize, long totalBlocks, int seed)
    {
        var random = new Random(seed);
        var bitmap = new byte[(totalBlocks + 7) / 8];
        // Runs of used and free blocks of random lengths, so the bitmap has runs across byte and word boundaries.
        bool inUse = false;
        for (long b = 0; b < totalBlocks;)
        {
            long run = Math.Min(totalBlocks - b, random.Next(1, 200));
            if (inUse)
            {
                for (long i = b; i < b + run; i++) bitmap[i >> 3] |= (byte)(1 << (int)(i & 7));
            }
            inUse = !inUse;
            b += run;
        }
        return FromBitmap(blockSize, totalBlocks, bitmap);
    }

    /// <summary>The layout of a format-2 image of <paramref name="totalBlocks"/> blocks whose used ones <paramref name="bitmap"/> marks.</summary>
    public static PartcloneEncoder.Layout FromBitmap(int blockSize, long totalBlocks, byte[] bitmap)
    {
        long used = 0;
        for (long b = 0; b < totalBlocks; b++)
            if ((bitmap[b >> 3] & (1 << (int)(b & 7))) != 0) used++;
        var h = new byte[110];
        "partclone-image"u8.CopyTo(h);
        "0.3.23"u8.CopyTo(h.AsSpan(16));
        "0002"u8.CopyTo(h.AsSpan(30));
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(34), 0xC0DE);
        "EXTFS"u8.CopyTo(h.AsSpan(36));
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(52), totalBlocks * blockSize);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(60), totalBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(68), used);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(76), used);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(84), blockSize);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(88), 18);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(92), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(94), 64);
        h[105] = 1;
        return new PartcloneEncoder.Layout(h, "EXTFS", blockSize, totalBlocks * blockSize, totalBlocks, used, bitmap);
    }
}
