using System.Buffers.Binary;
using System.IO.Hashing;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// The GPT restoredisk's sfdisk writes, from <c>&lt;disk&gt;-gpt-1st</c> (savedisk's <c>dd bs=512 count=34</c>: protective
/// MBR, header, entries). sfdisk rebuilds the same structures from the dump: on a target of the source's size they are
/// the source's bytes. The backup copy at the disk's end is the same entry array and the header with its LBAs swapped;
/// it is built here rather than read from <c>&lt;disk&gt;-gpt-2nd</c>, which savedisk cuts one sector short
/// (<c>skip=N-33+1 count=33</c> reads only the last 32 sectors).
/// </summary>
internal sealed class GptAreas
{
    private const int Sector = 512;
    private readonly string _file;
    private readonly byte[] _header;
    private readonly long _entriesLba;
    private readonly long _entrySectors;

    private GptAreas(string file, byte[] header, long entriesLba, long entrySectors, long diskSectors)
    {
        _file = file;
        _header = header;
        _entriesLba = entriesLba;
        _entrySectors = entrySectors;
        DiskSectors = diskSectors;
    }

    /// <summary>The disk's size in sectors as the primary header says it (its backup header's LBA + 1).</summary>
    public long DiskSectors { get; }

    public static GptAreas Load(string file, int sectorSize)
    {
        if (sectorSize != Sector)
            throw new ClonezillaFormatException($"{file}: GPT disks with {sectorSize}-byte sectors are not supported (savedisk saves the GPT in 512-byte sectors)");
        if (!File.Exists(file)) throw new ClonezillaFormatException($"{file} is missing: a GPT disk's primary GPT");
        var data = File.ReadAllBytes(file);
        if (data.Length < 2 * Sector || !data.AsSpan(Sector, 8).SequenceEqual("EFI PART"u8))
            throw new ClonezillaFormatException($"{file}: no GPT header at byte 512");
        var h = data.AsSpan(Sector, Sector);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        if (headerSize < 92 || headerSize > Sector) throw new ClonezillaFormatException($"{file}: GPT header size {headerSize}");
        var header = h[..(int)headerSize].ToArray();
        if (Crc(header, 16) != BinaryPrimitives.ReadUInt32LittleEndian(h[16..]))
            throw new ClonezillaFormatException($"{file}: GPT header CRC mismatch");
        long alternate = (long)BinaryPrimitives.ReadUInt64LittleEndian(h[32..]);
        long entriesLba = (long)BinaryPrimitives.ReadUInt64LittleEndian(h[72..]);
        long count = BinaryPrimitives.ReadUInt32LittleEndian(h[80..]);
        long entrySize = BinaryPrimitives.ReadUInt32LittleEndian(h[84..]);
        long entrySectors = (count * entrySize + Sector - 1) / Sector;
        if (entrySize < 128 || (entriesLba + entrySectors) * Sector > data.Length)
            throw new ClonezillaFormatException($"{file}: the GPT entries (LBA {entriesLba}, {count} x {entrySize} bytes) are not all in the file");
        var entries = data.AsSpan((int)(entriesLba * Sector), (int)(count * entrySize));
        if (System.IO.Hashing.Crc32.HashToUInt32(entries) != BinaryPrimitives.ReadUInt32LittleEndian(h[88..]))
            throw new ClonezillaFormatException($"{file}: GPT partition entries CRC mismatch");
        return new GptAreas(file, header, entriesLba, entrySectors, alternate + 1);
    }

    /// <summary>Primary header and entries from the file; backup entries from the file; the backup header built.</summary>
    public IEnumerable<ClonezillaBootArea> Areas(long diskSectors)
    {
        long primaryEnd = (_entriesLba + _entrySectors) * Sector;
        yield return ClonezillaBootArea.FromFile(Sector, primaryEnd - Sector, _file, Sector, "sfdisk: primary GPT header and entries");
        long backupEntries = diskSectors - 1 - _entrySectors;
        yield return ClonezillaBootArea.FromFile(backupEntries * Sector, _entrySectors * Sector, _file, _entriesLba * Sector, "sfdisk: backup GPT entries");
        yield return ClonezillaBootArea.FromBytes((diskSectors - 1) * Sector, BackupHeader(diskSectors, backupEntries), "sfdisk: backup GPT header");
    }

    private byte[] BackupHeader(long diskSectors, long backupEntries)
    {
        var b = new byte[Sector];
        _header.CopyTo(b, 0);
        var h = b.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)(diskSectors - 1));   // MyLBA
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], 1);                          // AlternateLBA
        BinaryPrimitives.WriteUInt64LittleEndian(h[72..], (ulong)backupEntries);       // PartitionEntryLBA
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], Crc(b.AsSpan(0, _header.Length).ToArray(), 16));
        return b;
    }

    /// <summary>The header CRC: CRC-32 of the header with its CRC field taken as zero.</summary>
    private static uint Crc(byte[] header, int crcOffset)
    {
        var copy = (byte[])header.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(crcOffset), 0);
        return System.IO.Hashing.Crc32.HashToUInt32(copy);
    }
}
