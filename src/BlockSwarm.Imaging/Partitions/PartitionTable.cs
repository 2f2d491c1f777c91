using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Partitions;

/// <summary>
/// A disk's MBR or GPT partition table: the partitions as Linux numbers them, plus the byte
/// ranges the table itself occupies (MBR, EBRs, GPT headers and entry arrays) so a
/// whole-disk map can carry them.
/// </summary>
public sealed class PartitionTable
{
    private const int MaxLogicalPartitions = 128;
    private const string NonzeroHint = "; the table is inconsistent, map the disk with --map nonzero";

    private PartitionTable(PartitionScheme scheme, int sectorSize, ImmutableArray<Partition> partitions,
        ImmutableArray<Extent> metadata, ImmutableArray<string> warnings)
    {
        Scheme = scheme;
        SectorSize = sectorSize;
        Partitions = partitions;
        MetadataExtents = metadata;
        Warnings = warnings;
    }

    public PartitionScheme Scheme { get; }

    /// <summary>Logical sector size the table's LBAs count in.</summary>
    public int SectorSize { get; }

    /// <summary>Partitions sorted by number (extended containers included, flagged).</summary>
    public ImmutableArray<Partition> Partitions { get; }

    /// <summary>Byte ranges holding the table: MBR, EBRs, GPT headers and entry arrays (primary and backup).</summary>
    public ImmutableArray<Extent> MetadataExtents { get; }

    /// <summary>Recoverable problems, e.g. a corrupt primary GPT header when the backup was used.</summary>
    public ImmutableArray<string> Warnings { get; }

    /// <summary>Partitions that can hold a filesystem (extended containers left out).</summary>
    public IEnumerable<Partition> Volumes => Partitions.Where(p => !p.IsExtended);

    /// <summary>Partition <paramref name="number"/>; throws <see cref="BlockMapException"/> listing the ones that exist.</summary>
    public Partition Get(int number) =>
        Partitions.FirstOrDefault(p => p.Number == number)
        ?? throw new BlockMapException($"no partition {number}; the disk has {(Partitions.IsEmpty ? "none" : string.Join(", ", Partitions.Select(p => p.Number)))}");

    /// <summary>
    /// Reads the table. GPT wins when the MBR is protective (type 0xEE). A sector 0 that is a
    /// FAT/NTFS boot sector means an unpartitioned "superfloppy" (such boot sectors also end in
    /// 0x55AA, and their code bytes can look like partition entries; libblkid does the same).
    /// </summary>
    public static PartitionTable Read(DeviceFile disk, int sectorSize = 512)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (sectorSize is not (512 or 1024 or 2048 or 4096)) throw new ArgumentOutOfRangeException(nameof(sectorSize));
        if (disk.Size < 512) return Empty(sectorSize);
        var mbr = new byte[512];
        disk.ReadExactly(0, mbr);
        if (mbr[510] != 0x55 || mbr[511] != 0xAA) return Empty(sectorSize);

        bool protective = false;
        for (int i = 0; i < 4; i++)
            if (mbr[0x1BE + i * 16 + 4] == 0xEE) protective = true;
        if (protective)
        {
            // A 4Kn disk keeps its GPT header at byte 4096 (LBA 1 of 4 KiB sectors).
            int ss = sectorSize;
            if (sectorSize == 512 && !HasSignatureAt(disk, 512) && HasSignatureAt(disk, 4096)) ss = 4096;
            return ReadGpt(disk, ss);
        }
        if (FileSystemDetector.Detect(disk, 0, disk.Size) != null) return Empty(sectorSize);
        return ReadMbr(disk, mbr, sectorSize);
    }

    private static bool HasSignatureAt(DeviceFile disk, long offset)
    {
        if (disk.Size < offset + 8) return false;
        Span<byte> sig = stackalloc byte[8];
        disk.ReadExactly(offset, sig);
        return sig.SequenceEqual("EFI PART"u8);
    }

    private static PartitionTable Empty(int sectorSize) =>
        new(PartitionScheme.None, sectorSize, [], [], []);

    private static PartitionTable ReadMbr(DeviceFile disk, byte[] mbr, int ss)
    {
        var parts = new List<Partition>();
        var meta = new List<Extent> { new(0, 512) };
        Partition? extended = null;
        for (int i = 0; i < 4; i++)
        {
            var e = mbr.AsSpan(0x1BE + i * 16, 16);
            byte status = e[0];
            if (status is not (0x00 or 0x80))
                return Empty(ss); // not an MBR after all (boot code of something else)
            byte type = e[4];
            long start = BinaryPrimitives.ReadUInt32LittleEndian(e[8..]);
            long count = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
            if (type == 0 || count == 0) continue;
            bool isExt = IsExtendedType(type);
            var p = new Partition(i + 1, start * ss, count * ss, $"0x{type:x2}", isExt);
            if (isExt)
            {
                if (extended != null) throw new BlockMapException($"MBR has two extended partitions ({extended.Number} and {p.Number}){NonzeroHint}");
                extended = p;
            }
            parts.Add(p);
        }
        if (parts.Count == 0) return Empty(ss);

        if (extended != null) ReadLogicals(disk, extended, ss, parts, meta);
        Validate(disk, parts);
        return new PartitionTable(PartitionScheme.Mbr, ss, [.. parts.OrderBy(p => p.Number)], [.. meta], []);
    }

    private static bool IsExtendedType(byte type) => type is 0x05 or 0x0F or 0x85;

    /// <summary>
    /// Follows the EBR chain: entry 0 is a logical partition relative to its EBR, entry 1 the
    /// next EBR relative to the start of the extended partition.
    /// </summary>
    private static void ReadLogicals(DeviceFile disk, Partition extended, int ss, List<Partition> parts, List<Extent> meta)
    {
        long ebrLba = extended.Start / ss;
        long extLba = ebrLba;
        var seen = new HashSet<long>();
        int number = 5;
        var ebr = new byte[512];
        while (true)
        {
            long ebrByte = ebrLba * ss;
            if (!seen.Add(ebrLba) || seen.Count > MaxLogicalPartitions)
                throw new BlockMapException($"EBR chain loops or is too long at sector {ebrLba}{NonzeroHint}");
            if (ebrByte < extended.Start || ebrByte + 512 > extended.End || ebrByte + 512 > disk.Size)
                throw new BlockMapException($"EBR at sector {ebrLba} lies outside extended partition {extended.Number}{NonzeroHint}");
            disk.ReadExactly(ebrByte, ebr);
            if (ebr[510] != 0x55 || ebr[511] != 0xAA)
                throw new BlockMapException($"EBR at sector {ebrLba} has no 0x55AA signature{NonzeroHint}");
            meta.Add(new Extent(ebrByte, 512));
            var first = ebr.AsSpan(0x1BE, 16);
            byte type = first[4];
            long rel = BinaryPrimitives.ReadUInt32LittleEndian(first[8..]);
            long count = BinaryPrimitives.ReadUInt32LittleEndian(first[12..]);
            if (type != 0 && count != 0)
            {
                var p = new Partition(number++, (ebrLba + rel) * ss, count * ss, $"0x{type:x2}");
                if (p.Start < extended.Start || p.End > extended.End)
                    throw new BlockMapException($"logical partition {p} lies outside extended partition {extended}{NonzeroHint}");
                parts.Add(p);
            }
            var link = ebr.AsSpan(0x1CE, 16);
            long next = BinaryPrimitives.ReadUInt32LittleEndian(link[8..]);
            if (link[4] == 0 || next == 0) break;
            ebrLba = extLba + next;
        }
    }

    private sealed record GptHeader(long MyLba, long AlternateLba, long FirstUsable, long LastUsable,
        long EntriesLba, int EntryCount, int EntrySize, byte[] Entries)
    {
        public long EntriesBytes => (long)EntryCount * EntrySize;
    }

    private static PartitionTable ReadGpt(DeviceFile disk, int ss)
    {
        long lastLba = disk.Size / ss - 1;
        var warnings = new List<string>();
        var primary = ReadGptHeader(disk, 1, ss, out string? primaryWhy);
        // The primary names its backup (an image grown after partitioning keeps it at the old end);
        // without a primary, the backup is by definition at the disk's last LBA.
        long backupLba = primary?.AlternateLba ?? lastLba;
        GptHeader? backup = null;
        string? backupWhy = null;
        if (backupLba > 1 && backupLba <= lastLba)
            backup = ReadGptHeader(disk, backupLba, ss, out backupWhy);
        else
            backupWhy = $"backup header LBA {backupLba} lies outside the disk ({lastLba + 1} sectors)";

        var header = primary ?? backup
            ?? throw new BlockMapException($"GPT: primary header bad ({primaryWhy}) and backup header bad ({backupWhy}){NonzeroHint}");
        if (primary == null) warnings.Add($"GPT primary header is bad ({primaryWhy}); using the backup at LBA {backupLba}");
        if (backup == null) warnings.Add($"GPT backup header is bad ({backupWhy})");

        var meta = new List<Extent> { new(0, ss) };
        long entrySectorsBytes = (header.EntriesBytes + ss - 1) / ss * ss;
        AddMeta(meta, disk, ss, primary?.EntriesLba ?? 2, entrySectorsBytes);
        meta.Add(new Extent(ss, ss));
        // Keep the backup area even when it is damaged so the copy matches the source byte for byte.
        long backupEntriesLba = backup?.EntriesLba ?? backupLba - entrySectorsBytes / ss;
        AddMeta(meta, disk, ss, backupEntriesLba, entrySectorsBytes);
        AddMeta(meta, disk, ss, backupLba, ss);

        var parts = new List<Partition>();
        for (int i = 0; i < header.EntryCount; i++)
        {
            var e = header.Entries.AsSpan(i * header.EntrySize, header.EntrySize);
            var typeGuid = e[..16];
            if (!typeGuid.ContainsAnyExcept((byte)0)) continue;
            long first = BinaryPrimitives.ReadInt64LittleEndian(e[0x20..]);
            long last = BinaryPrimitives.ReadInt64LittleEndian(e[0x28..]);
            if (first < 0 || last < first || last > long.MaxValue / ss - 1)
                throw new BlockMapException($"GPT entry {i + 1} has LBAs {first}..{last}{NonzeroHint}");
            string name = Encoding.Unicode.GetString(e.Slice(0x38, Math.Min(72, header.EntrySize - 0x38))).TrimEnd('\0');
            parts.Add(new Partition(i + 1, first * ss, (last - first + 1) * ss, new Guid(typeGuid).ToString(), false, name));
        }
        Validate(disk, parts);
        return new PartitionTable(PartitionScheme.Gpt, ss, [.. parts], [.. meta.Order()], [.. warnings]);
    }

    private static void AddMeta(List<Extent> meta, DeviceFile disk, int ss, long lba, long bytes)
    {
        long off = lba * ss;
        if (lba > 0 && bytes > 0 && off < disk.Size)
            meta.Add(new Extent(off, Math.Min(bytes, disk.Size - off)));
    }

    private static GptHeader? ReadGptHeader(DeviceFile disk, long lba, int ss, out string? why)
    {
        why = null;
        if ((lba + 1) * ss > disk.Size) { why = $"LBA {lba} past the disk end"; return null; }
        var h = new byte[ss];
        disk.ReadExactly(lba * ss, h);
        if (!h.AsSpan(0, 8).SequenceEqual("EFI PART"u8)) { why = $"no \"EFI PART\" signature at LBA {lba}"; return null; }
        int headerSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(0x0C));
        if (headerSize < 92 || headerSize > ss) { why = $"header size {headerSize}"; return null; }
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(0x10));
        // The CRC is computed with its own field zeroed.
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(0x10), 0);
        uint actual = System.IO.Hashing.Crc32.HashToUInt32(h.AsSpan(0, headerSize));
        if (actual != crc) { why = $"header CRC32 0x{actual:x8} != stored 0x{crc:x8} at LBA {lba}"; return null; }
        long my = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(0x18));
        long alt = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(0x20));
        long firstUsable = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(0x28));
        long lastUsable = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(0x30));
        long entriesLba = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(0x48));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(0x50));
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(0x54));
        uint entriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(0x58));
        if (my != lba) { why = $"header at LBA {lba} says it is at LBA {my}"; return null; }
        if (size < 128 || size % 8 != 0 || size > 4096 || count == 0 || count > 16384 || (long)count * size > 4L << 20)
        { why = $"entry array of {count} x {size} bytes"; return null; }
        long entriesBytes = (long)count * size;
        if (entriesLba < 1 || entriesLba > disk.Size / ss || entriesLba * ss + entriesBytes > disk.Size)
        { why = $"entry array at LBA {entriesLba} lies outside the disk"; return null; }
        var entries = new byte[entriesBytes];
        disk.ReadExactly(entriesLba * ss, entries);
        uint entriesActual = System.IO.Hashing.Crc32.HashToUInt32(entries);
        if (entriesActual != entriesCrc) { why = $"entry array CRC32 0x{entriesActual:x8} != stored 0x{entriesCrc:x8}"; return null; }
        return new GptHeader(my, alt, firstUsable, lastUsable, entriesLba, (int)count, (int)size, entries);
    }

    /// <summary>Partitions must end inside the disk and not overlap (logicals nest inside their extended container).</summary>
    private static void Validate(DeviceFile disk, List<Partition> parts)
    {
        foreach (var p in parts)
        {
            if (p.End > disk.Size)
                throw new BlockMapException($"partition {p.Number} ends at byte {p.End}, past the end of the disk ({disk.Size} bytes){NonzeroHint}");
        }
        var sorted = parts.Where(p => !p.IsExtended).OrderBy(p => p.Start).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Start < sorted[i - 1].End)
                throw new BlockMapException($"partitions {sorted[i - 1].Number} and {sorted[i].Number} overlap ({sorted[i - 1]} and {sorted[i]}){NonzeroHint}");
        }
        foreach (var ext in parts.Where(p => p.IsExtended))
        {
            foreach (var p in parts.Where(p => !p.IsExtended && p.Number <= 4 && p.Start < ext.End && ext.Start < p.End))
                throw new BlockMapException($"primary partition {p.Number} overlaps extended partition {ext.Number}{NonzeroHint}");
        }
    }
}
