using System.Buffers.Binary;
using System.Numerics;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// Used-block scanner for XFS (v4 and v5): per allocation group it reads the AGF, walks the
/// free-space B+tree indexed by block number (bnobt) and reports everything in the AG that is
/// not a free extent. AG headers, the internal log, btree blocks and AGFL blocks are allocated
/// space and so come out as used. All on-disk integers are big-endian.
/// An instance is not thread-safe: <see cref="BytesRead"/> describes its last scan.
/// </summary>
public sealed class XfsScanner : IFileSystemScanner
{
    private const uint SbMagic = 0x58465342;   // "XFSB"
    private const uint AgfMagic = 0x58414746;  // "XAGF"
    private const uint AgflMagic = 0x5841464C; // "XAFL"
    private const uint BnoMagicV4 = 0x41425442; // "ABTB"
    private const uint BnoMagicV5 = 0x41423342; // "AB3B"
    private const int ShortBtreeHeaderV4 = 16;  // magic, level, numrecs, leftsib, rightsib
    private const int ShortBtreeHeaderV5 = 56;  // + blkno, lsn, uuid, owner, crc
    private const int AgflHeaderV5 = 36;        // magic, seqno, uuid, lsn, crc
    private const int MaxBtreeLevels = 9;       // XFS_BTREE_MAXLEVELS

    public string Name => "xfs";

    /// <summary>Bytes read from the device by the last <see cref="Scan"/>.</summary>
    public long BytesRead { get; private set; }

    public bool Probe(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(head) == SbMagic;

    public BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength)
    {
        BytesRead = 0;
        var reader = new VolumeReader(device, volumeOffset, volumeLength, "xfs");
        try
        {
            return ScanCore(reader);
        }
        finally
        {
            BytesRead = reader.BytesRead;
        }
    }

    private static BlockMap ScanCore(VolumeReader reader)
    {
        Span<byte> sb = stackalloc byte[512];
        reader.Read(0, sb, "superblock");
        var fs = Geometry.Parse(sb, reader);

        var builder = new BlockMapBuilder(reader.VolumeLength, fs.BlockSize);
        var headers = new byte[4 * fs.SectorSize]; // SB, AGF, AGI, AGFL
        var block = new byte[fs.BlockSize];
        var free = new List<(uint Start, uint Length)>();
        var agfl = new List<uint>();
        var stack = new Stack<(uint AgBlock, int Level)>();

        for (uint ag = 0; ag < fs.AgCount; ag++)
        {
            long agStart = (long)ag * fs.AgBlocks;
            uint agLength = fs.AgLength(ag);
            reader.Read(agStart * fs.BlockSize, headers, $"AG {ag} headers");
            var agf = headers.AsSpan(fs.SectorSize, fs.SectorSize);
            ReadAgf(agf, ag, agLength, reader, out uint bnoRoot, out int bnoLevels);

            free.Clear();
            WalkBnobt(reader, fs, ag, agStart, agLength, bnoRoot, bnoLevels, block, free, stack);
            ReadAgfl(agf, headers.AsSpan(3 * fs.SectorSize, fs.SectorSize), fs, agLength, agfl);
            EmitUsed(fs, ag, agStart, agLength, free, agfl, builder, reader);
        }
        return builder.Build();
    }

    private static void ReadAgf(ReadOnlySpan<byte> agf, uint ag, uint agLength, VolumeReader reader, out uint bnoRoot, out int bnoLevels)
    {
        if (BinaryPrimitives.ReadUInt32BigEndian(agf) != AgfMagic)
            throw reader.Corrupt($"AG {ag} has no AGF magic \"XAGF\"");
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(agf[0x08..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(agf[0x0C..]);
        if (seq != ag) throw reader.Corrupt($"AG {ag}'s AGF says it is AG {seq}");
        if (length != agLength) throw reader.Corrupt($"AG {ag}'s AGF length {length} differs from the superblock's {agLength} blocks");
        bnoRoot = BinaryPrimitives.ReadUInt32BigEndian(agf[0x10..]);
        bnoLevels = (int)BinaryPrimitives.ReadUInt32BigEndian(agf[0x1C..]);
        if (bnoLevels < 1 || bnoLevels > MaxBtreeLevels)
            throw reader.Corrupt($"AG {ag}'s free-space btree has {bnoLevels} levels (1..{MaxBtreeLevels} allowed)");
        if (bnoRoot == 0 || bnoRoot >= agLength)
            throw reader.Corrupt($"AG {ag}'s free-space btree root {bnoRoot} lies outside the AG ({agLength} blocks)");
    }

    /// <summary>
    /// Depth-first walk of the bnobt collecting free extents in block order. Every block's magic
    /// and level are checked and the number of visited blocks is capped, so a corrupt pointer
    /// cycle cannot loop forever.
    /// </summary>
    private static void WalkBnobt(VolumeReader reader, Geometry fs, uint ag, long agStart, uint agLength, uint root, int levels,
        byte[] block, List<(uint Start, uint Length)> free, Stack<(uint AgBlock, int Level)> stack)
    {
        int header = fs.IsV5 ? ShortBtreeHeaderV5 : ShortBtreeHeaderV4;
        uint magic = fs.IsV5 ? BnoMagicV5 : BnoMagicV4;
        int maxLeafRecs = (fs.BlockSize - header) / 8;  // (startblock, blockcount)
        int maxNodeRecs = (fs.BlockSize - header) / 12; // key (8) + pointer (4)
        long visited = 0;
        stack.Clear();
        stack.Push((root, levels - 1));
        while (stack.Count > 0)
        {
            var (agbno, level) = stack.Pop();
            if (++visited > agLength) throw reader.Corrupt($"AG {ag}'s free-space btree has a cycle");
            long blockNo = agStart + agbno;
            reader.Read(blockNo * fs.BlockSize, block, $"AG {ag} free-space btree block {agbno}");
            var b = block.AsSpan();
            if (BinaryPrimitives.ReadUInt32BigEndian(b) != magic)
                throw reader.Corrupt($"AG {ag} free-space btree block {agbno} has magic 0x{BinaryPrimitives.ReadUInt32BigEndian(b):x8}, expected 0x{magic:x8}");
            int blockLevel = BinaryPrimitives.ReadUInt16BigEndian(b[4..]);
            int numRecs = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
            if (blockLevel != level)
                throw reader.Corrupt($"AG {ag} free-space btree block {agbno} is at level {blockLevel}, expected {level}");
            // v5 blocks record their own address (in 512-byte units): a cheap check that the
            // pointer led where the tree meant.
            if (fs.IsV5 && BinaryPrimitives.ReadUInt64BigEndian(b[16..]) != (ulong)(blockNo * (fs.BlockSize / 512)))
                throw reader.Corrupt($"AG {ag} free-space btree block {agbno} claims to live at sector {BinaryPrimitives.ReadUInt64BigEndian(b[16..])}");
            if (level == 0)
            {
                if (numRecs > maxLeafRecs) throw reader.Corrupt($"AG {ag} free-space btree leaf {agbno} has {numRecs} records (max {maxLeafRecs})");
                for (int i = 0; i < numRecs; i++)
                {
                    var rec = b.Slice(header + i * 8, 8);
                    uint start = BinaryPrimitives.ReadUInt32BigEndian(rec);
                    uint length = BinaryPrimitives.ReadUInt32BigEndian(rec[4..]);
                    if (length == 0 || start >= agLength || length > agLength - start)
                        throw reader.Corrupt($"AG {ag} free extent [{start}, +{length}) lies outside the AG ({agLength} blocks)");
                    free.Add((start, length));
                }
            }
            else
            {
                if (numRecs == 0 || numRecs > maxNodeRecs) throw reader.Corrupt($"AG {ag} free-space btree node {agbno} has {numRecs} records (1..{maxNodeRecs})");
                int ptrs = header + maxNodeRecs * 8;
                // Push right to left so the leftmost child is walked first and extents arrive sorted.
                for (int i = numRecs - 1; i >= 0; i--)
                {
                    uint child = BinaryPrimitives.ReadUInt32BigEndian(b[(ptrs + i * 4)..]);
                    if (child == 0 || child >= agLength)
                        throw reader.Corrupt($"AG {ag} free-space btree node {agbno} points at block {child} outside the AG");
                    stack.Push((child, level - 1));
                }
            }
        }
    }

    /// <summary>The AG free list's blocks (flfirst..fllast, circular). They are allocated, never free.</summary>
    private static void ReadAgfl(ReadOnlySpan<byte> agf, ReadOnlySpan<byte> agflSector, Geometry fs, uint agLength, List<uint> agfl)
    {
        agfl.Clear();
        uint first = BinaryPrimitives.ReadUInt32BigEndian(agf[0x28..]);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(agf[0x30..]);
        int header = fs.IsV5 ? AgflHeaderV5 : 0;
        if (fs.IsV5 && BinaryPrimitives.ReadUInt32BigEndian(agflSector) != AgflMagic) return; // nothing trustworthy to add
        int size = (fs.SectorSize - header) / 4;
        // Only a hint (these blocks are not in the bnobt anyway): out-of-range values are skipped, not fatal.
        if (first >= size || count > size) return;
        for (uint i = 0; i < count; i++)
        {
            int index = (int)((first + i) % (uint)size);
            uint agbno = BinaryPrimitives.ReadUInt32BigEndian(agflSector[(header + index * 4)..]);
            if (agbno < agLength) agfl.Add(agbno);
        }
    }

    private static void EmitUsed(Geometry fs, uint ag, long agStart, uint agLength, List<(uint Start, uint Length)> free, List<uint> agfl,
        BlockMapBuilder builder, VolumeReader reader)
    {
        free.Sort();
        // AG headers are never free; should a free extent cover them, that corruption is papered over safely.
        builder.AddBytes(agStart * fs.BlockSize, 4L * fs.SectorSize);
        long cursor = 0; // next AG block not yet accounted for
        foreach (var (start, length) in free)
        {
            if (start < cursor) throw reader.Corrupt($"AG {ag} free extents overlap at block {start}");
            builder.AddBlocks(agStart + cursor, start - cursor);
            cursor = (long)start + length;
        }
        builder.AddBlocks(agStart + cursor, agLength - cursor);
        foreach (uint agbno in agfl) builder.AddBlocks(agStart + agbno, 1);
    }

    /// <summary>Superblock geometry, validated before any AG is touched.</summary>
    private sealed class Geometry
    {
        private Geometry() { }

        public int BlockSize { get; private init; }
        public int SectorSize { get; private init; }
        public long DataBlocks { get; private init; }
        public uint AgBlocks { get; private init; }
        public uint AgCount { get; private init; }
        public bool IsV5 { get; private init; }

        public uint AgLength(uint ag) =>
            ag + 1 < AgCount ? AgBlocks : (uint)(DataBlocks - (long)(AgCount - 1) * AgBlocks);

        public static Geometry Parse(ReadOnlySpan<byte> sb, VolumeReader reader)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(sb) != SbMagic) throw reader.Corrupt("no XFS superblock magic \"XFSB\" at byte 0");
            uint bs = BinaryPrimitives.ReadUInt32BigEndian(sb[0x04..]);
            long dblocks = (long)BinaryPrimitives.ReadUInt64BigEndian(sb[0x08..]);
            uint agBlocks = BinaryPrimitives.ReadUInt32BigEndian(sb[0x54..]);
            uint agCount = BinaryPrimitives.ReadUInt32BigEndian(sb[0x58..]);
            int version = BinaryPrimitives.ReadUInt16BigEndian(sb[0x64..]) & 0xF;
            int sectSize = BinaryPrimitives.ReadUInt16BigEndian(sb[0x66..]);
            byte inProgress = sb[0x7E];

            if (bs < 512 || bs > 65536 || !BitOperations.IsPow2(bs)) throw reader.Corrupt($"block size {bs} is not a power of two in 512..65536");
            if (sectSize < 512 || sectSize > 32768 || !BitOperations.IsPow2(sectSize) || sectSize > bs)
                throw reader.Corrupt($"sector size {sectSize} is not a power of two in 512..32768 and at most the block size");
            if (version is not (4 or 5)) throw reader.Corrupt($"superblock version {version} is not 4 or 5");
            if (inProgress != 0) throw reader.Corrupt("mkfs did not finish (sb_inprogress is set)");
            if (agCount == 0 || agBlocks == 0) throw reader.Corrupt($"{agCount} AGs of {agBlocks} blocks");
            // The AG must hold its four header sectors plus at least the btree roots.
            if ((long)agBlocks * bs < 8L * sectSize) throw reader.Corrupt($"AG size {agBlocks} blocks is too small");
            if (dblocks <= 0 || dblocks > (long)agCount * agBlocks || dblocks <= (long)(agCount - 1) * agBlocks)
                throw reader.Corrupt($"data blocks {dblocks} do not match {agCount} AGs of {agBlocks} blocks");
            long lastAg = dblocks - (long)(agCount - 1) * agBlocks;
            if (lastAg * bs < 4L * sectSize) throw reader.Corrupt($"the last AG ({lastAg} blocks) cannot hold its headers");
            if (dblocks > reader.VolumeLength / bs)
                throw new BlockMapException(
                    $"xfs: the filesystem has {dblocks} blocks of {bs} bytes but the volume holds only {reader.VolumeLength} bytes; the image is truncated or the partition too small, try --map nonzero");
            return new Geometry
            {
                BlockSize = (int)bs,
                SectorSize = sectSize,
                DataBlocks = dblocks,
                AgBlocks = agBlocks,
                AgCount = agCount,
                IsV5 = version == 5,
            };
        }
    }
}
