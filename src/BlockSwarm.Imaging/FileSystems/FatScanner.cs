using System.Buffers.Binary;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// FAT12/16/32: the used set is the reserved area (boot sector, FAT32 FSInfo and backup boot
/// sector), every FAT copy, the fixed root directory (FAT12/16) and each data cluster whose
/// FAT entry is non-zero. Bad-cluster marks count as used: copying them is harmless and it
/// keeps the map a superset of what any checker might read.
/// </summary>
public sealed class FatScanner : IFileSystemScanner
{
    private const int ChunkBytes = 3 << 18; // 768 KiB

    public string Name => "vfat";

    public bool Probe(ReadOnlySpan<byte> head) => FatGeometry.TryParse(head, out _, out _);

    public BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckVolume(device, volumeOffset, volumeLength);
        Span<byte> boot = stackalloc byte[512];
        device.ReadExactly(volumeOffset, boot);
        if (!FatGeometry.TryParse(boot, out var g, out string? why))
            throw new BlockMapException($"{device.Path} @ {volumeOffset}: not a valid FAT boot sector: {why}; try --map nonzero");
        if (g.VolumeBytes > volumeLength)
            throw new BlockMapException(
                $"{device.Path} @ {volumeOffset}: FAT volume claims {g.VolumeBytes} bytes but only {volumeLength} are there (truncated image?); try --map nonzero");

        // Everything up to the first data cluster is metadata: reserved sectors, FATs, root dir.
        var builder = new BlockMapBuilder(volumeLength, g.BytesPerSector);
        builder.AddBytes(0, g.DataStartBytes);

        // Read the active FAT (FAT32 may run with mirroring off and another copy active) in
        // bounded chunks: a large FAT32 volume's FAT runs to hundreds of MiB. The chunk size is
        // a multiple of 3 and 4 so no FAT12 pair or FAT32 entry straddles two chunks.
        long fatOffset = volumeOffset + (g.ReservedSectors + (long)g.ActiveFat * g.FatSectors) * g.BytesPerSector;
        long fatBytes = g.FatBytesNeeded;
        var chunk = new byte[(int)Math.Min(ChunkBytes, fatBytes + 1)];
        long clusterBytes = g.ClusterBytes;
        long lastCluster = g.ClusterCount + 1;
        for (long chunkStart = 0; chunkStart < fatBytes; chunkStart += ChunkBytes)
        {
            int n = (int)Math.Min(ChunkBytes, fatBytes - chunkStart);
            var span = chunk.AsSpan(0, n);
            device.ReadExactly(fatOffset + chunkStart, span);
            chunk.AsSpan(n).Clear(); // FAT12's last odd entry reads one byte past the data
            long firstEntry = chunkStart * 8 / g.FatBits;
            long entries = (long)n * 8 / g.FatBits;
            for (long i = Math.Max(0, 2 - firstEntry); i < entries && firstEntry + i <= lastCluster; i++)
            {
                if (g.Entry(chunk, i) != 0)
                    builder.AddBytes(g.DataStartBytes + (firstEntry + i - 2) * clusterBytes, clusterBytes);
            }
        }
        return builder.Build();
    }

    internal static void CheckVolume(DeviceFile device, long volumeOffset, long volumeLength)
    {
        if (volumeOffset < 0 || volumeLength <= 0 || volumeOffset > device.Size - volumeLength)
            throw new BlockMapException(
                $"{device.Path}: volume at {volumeOffset} (+{volumeLength}) lies outside the device ({device.Size} bytes)");
    }
}

/// <summary>Parsed and validated FAT BIOS parameter block.</summary>
internal sealed record FatGeometry(
    int BytesPerSector, int SectorsPerCluster, int ReservedSectors, int FatCount, long FatSectors,
    int RootEntries, long TotalSectors, long ClusterCount, int FatBits, int ActiveFat)
{
    public long ClusterBytes => (long)BytesPerSector * SectorsPerCluster;
    public long RootDirSectors => ((RootEntries * 32L) + BytesPerSector - 1) / BytesPerSector;
    public long DataStartBytes => (ReservedSectors + FatCount * FatSectors + RootDirSectors) * BytesPerSector;
    public long VolumeBytes => TotalSectors * BytesPerSector;

    /// <summary>Bytes of one FAT that hold entries 0 .. ClusterCount+1.</summary>
    public long FatBytesNeeded => FatBits switch
    {
        12 => ((ClusterCount + 2) * 3 + 1) / 2,
        16 => (ClusterCount + 2) * 2,
        _ => (ClusterCount + 2) * 4,
    };

    public uint Entry(ReadOnlySpan<byte> fat, long cluster)
    {
        switch (FatBits)
        {
            case 12:
                {
                    // Two 12-bit entries share three bytes; odd entries take the high 12 bits.
                    int at = (int)(cluster * 3 / 2);
                    ushort v = BinaryPrimitives.ReadUInt16LittleEndian(fat[at..]);
                    return (cluster & 1) != 0 ? (uint)(v >> 4) : (uint)(v & 0xFFF);
                }
            case 16:
                return BinaryPrimitives.ReadUInt16LittleEndian(fat[(int)(cluster * 2)..]);
            default:
                // The top four bits of a FAT32 entry are reserved and must be ignored.
                return BinaryPrimitives.ReadUInt32LittleEndian(fat[(int)(cluster * 4)..]) & 0x0FFF_FFFF;
        }
    }

    public static bool TryParse(ReadOnlySpan<byte> b, out FatGeometry geometry, out string? why)
    {
        geometry = null!;
        why = null;
        if (b.Length < 512) { why = "fewer than 512 bytes"; return false; }
        if (b[510] != 0x55 || b[511] != 0xAA) { why = "no 0x55AA signature"; return false; }
        // x86 jump (EB xx or E9 xx xx) opens every FAT boot sector; it also rules out most MBRs' code.
        if (b[0] != 0xEB && b[0] != 0xE9) { why = $"no jump instruction (0x{b[0]:x2})"; return false; }
        int bps = BinaryPrimitives.ReadUInt16LittleEndian(b[0x0B..]);
        if (bps is not (512 or 1024 or 2048 or 4096)) { why = $"bytes/sector {bps}"; return false; }
        int spc = b[0x0D];
        if (spc == 0 || (spc & (spc - 1)) != 0) { why = $"sectors/cluster {spc}"; return false; }
        int reserved = BinaryPrimitives.ReadUInt16LittleEndian(b[0x0E..]);
        if (reserved == 0) { why = "no reserved sectors"; return false; }
        int fats = b[0x10];
        if (fats is 0 or > 4) { why = $"{fats} FATs"; return false; }
        int rootEntries = BinaryPrimitives.ReadUInt16LittleEndian(b[0x11..]);
        long total = BinaryPrimitives.ReadUInt16LittleEndian(b[0x13..]);
        if (total == 0) total = BinaryPrimitives.ReadUInt32LittleEndian(b[0x20..]);
        byte media = b[0x15];
        if (media != 0xF0 && media < 0xF8) { why = $"media byte 0x{media:x2}"; return false; }
        long fatSectors = BinaryPrimitives.ReadUInt16LittleEndian(b[0x16..]);
        bool fat32Layout = fatSectors == 0;
        if (fat32Layout) fatSectors = BinaryPrimitives.ReadUInt32LittleEndian(b[0x24..]);
        if (fatSectors == 0) { why = "FAT size 0"; return false; }
        if (total == 0) { why = "total sectors 0"; return false; }

        long rootDirSectors = ((rootEntries * 32L) + bps - 1) / bps;
        long dataStart = reserved + fats * fatSectors + rootDirSectors;
        if (dataStart >= total) { why = $"metadata ({dataStart} sectors) does not fit in {total} sectors"; return false; }
        long clusters = (total - dataStart) / spc;
        if (clusters == 0) { why = "no data clusters"; return false; }

        // The cluster count alone decides the FAT type (Microsoft's FAT spec, "FAT type determination").
        int bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
        if (bits == 32 && (!fat32Layout || rootEntries != 0)) { why = "FAT32 cluster count but FAT12/16 layout"; return false; }
        if (bits != 32 && fat32Layout) { why = "FAT32 layout but too few clusters for FAT32"; return false; }
        if (bits != 32 && rootEntries == 0) { why = "FAT12/16 without root directory entries"; return false; }

        var g = new FatGeometry(bps, spc, reserved, fats, fatSectors, rootEntries, total, clusters, bits, 0);
        if (g.FatBytesNeeded > fatSectors * bps)
        {
            why = $"FAT of {fatSectors} sectors cannot describe {clusters} clusters";
            return false;
        }
        if (bits == 32)
        {
            // ext_flags bit 7: mirroring disabled, bits 0-3 name the one active FAT.
            ushort ext = BinaryPrimitives.ReadUInt16LittleEndian(b[0x28..]);
            int active = (ext & 0x80) != 0 ? ext & 0x0F : 0;
            if (active >= fats) { why = $"active FAT {active} of {fats}"; return false; }
            g = g with { ActiveFat = active };
        }
        geometry = g;
        return true;
    }
}
