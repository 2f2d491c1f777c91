using System.Buffers.Binary;

namespace BlockSwarm.Clonezilla;

/// <summary>One EBR sfdisk writes: its sector and its 512 bytes (446 zero bytes, two entries, zeros, 55 AA).</summary>
internal sealed record Ebr(long Sector, byte[] Bytes);

/// <summary>
/// The chain of extended boot records sfdisk writes when restoredisk feeds it an MBR dump with logical partitions — no
/// file of the image holds them (savedisk keeps only the first EBR, <c>&lt;ext&gt;-ebr</c>). Computed as libfdisk 2.38
/// does (<c>libfdisk/src/dos.c</c>: <c>add_partition</c>, <c>set_partition</c>, <c>dos_write_disklabel</c>; CHS from
/// <c>dos_partition_sync_chs</c>): the first EBR at the extended partition's start, each later one
/// <c>first_lba</c> sectors (1 MiB) before its partition (one sector when the partitions leave less room, libfdisk's
/// fall-back to first_lba 1); entry 1 the logical partition relative to its EBR, entry 2 the link to the next EBR
/// (type 05, relative to the extended partition, reaching to the end of the next logical partition).
/// </summary>
internal static class EbrChain
{
    private const byte ExtendedLinkType = 0x05;

    public static IReadOnlyList<Ebr> Build(SfdiskEntry extended, IReadOnlyList<SfdiskEntry> logicals, int sectorSize, int heads, int sectorsPerTrack)
    {
        long firstLba = Math.Max(1, (1 << 20) / sectorSize);
        var offsets = new long[logicals.Count];
        for (int i = 0; i < logicals.Count; i++)
        {
            long start = logicals[i].Start;
            if (i == 0)
            {
                offsets[i] = extended.Start;
                if (start < extended.Start + firstLba) firstLba = 1;
                continue;
            }
            long previousEnd = logicals[i - 1].Start + logicals[i - 1].Size - 1;
            if (start - firstLba <= previousEnd) firstLba = 1;
            offsets[i] = start - firstLba;
            if (offsets[i] == extended.Start) offsets[i]++;
        }
        var ebrs = new List<Ebr>();
        if (logicals.Count == 0)
        {
            // An empty extended partition: dos_write_disklabel clears its first sector to an empty EBR.
            var empty = new byte[512];
            empty[510] = 0x55;
            empty[511] = 0xAA;
            ebrs.Add(new Ebr(extended.Start, empty));
            return ebrs;
        }
        for (int i = 0; i < logicals.Count; i++)
        {
            var sector = new byte[512];
            var p = logicals[i];
            WriteEntry(sector.AsSpan(446, 16), p.Bootable, ParseType(p), offsets[i], p.Start - offsets[i], p.Size, heads, sectorsPerTrack);
            if (i + 1 < logicals.Count)
            {
                var next = logicals[i + 1];
                long linkEnd = next.Start + next.Size - 1;
                WriteEntry(sector.AsSpan(462, 16), false, ExtendedLinkType, extended.Start, offsets[i + 1] - extended.Start,
                    linkEnd - offsets[i + 1] + 1, heads, sectorsPerTrack);
            }
            sector[510] = 0x55;
            sector[511] = 0xAA;
            ebrs.Add(new Ebr(offsets[i], sector));
        }
        return ebrs;
    }

    private static byte ParseType(SfdiskEntry p) =>
        byte.TryParse(p.Type, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var t)
            ? t : throw new ClonezillaFormatException($"partition {p.Name}: MBR type '{p.Type}' is not a hex byte");

    /// <summary>An MBR/EBR partition entry; CHS of the absolute start and end, capped at cylinder 1023 as libfdisk does.</summary>
    private static void WriteEntry(Span<byte> e, bool boot, byte type, long baseSector, long relativeStart, long size, int heads, int sectors)
    {
        long start = baseSector + relativeStart;
        long stop = start + size - 1;
        e[0] = boot ? (byte)0x80 : (byte)0;
        Chs(e[1..4], start, heads, sectors);
        e[4] = type;
        Chs(e[5..8], stop, heads, sectors);
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], (uint)relativeStart);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)size);
    }

    private static void Chs(Span<byte> chs, long lba, int heads, int sectors)
    {
        long spc = (long)heads * sectors;
        if (lba / spc > 1023) lba = spc * 1024 - 1;
        long cylinder = lba / spc;
        chs[0] = (byte)(lba / sectors % heads);
        chs[1] = (byte)((lba % sectors + 1) & 0x3f | (cylinder >> 2) & 0xc0);
        chs[2] = (byte)(cylinder & 0xff);
    }
}
