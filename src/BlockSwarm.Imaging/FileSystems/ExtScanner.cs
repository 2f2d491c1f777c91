using System.Buffers.Binary;
using System.Numerics;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// Used-block scanner for ext2/3/4: reads the superblock, the group descriptors and every
/// group's block bitmap; groups whose bitmap was never initialised (BLOCK_UNINIT) get their
/// used set computed the way e2fsprogs and the kernel do. Reads are batched (bitmaps of
/// neighbouring groups sit next to each other under flex_bg) and counted in <see cref="BytesRead"/>.
/// An instance is not thread-safe: <see cref="BytesRead"/> describes its last scan.
/// </summary>
public sealed class ExtScanner : IFileSystemScanner
{
    internal const int SuperblockOffset = 1024;
    private const int SuperblockSize = 1024;
    internal const ushort Magic = 0xEF53;

    // Feature bits (include/linux/ext4.h, lib/ext2fs/ext2_fs.h).
    private const uint CompatHasJournal = 0x4;
    internal const uint CompatSparseSuper2 = 0x200;
    private const uint IncompatFiletype = 0x2;
    private const uint IncompatRecover = 0x4;
    internal const uint IncompatJournalDev = 0x8;
    internal const uint IncompatMetaBg = 0x10;
    internal const uint Incompat64Bit = 0x80;
    // Every incompat bit e2fsprogs knows; none changes how block bitmaps work. An unknown bit
    // might, so such a filesystem is refused rather than guessed at.
    internal const uint IncompatKnown = 0x3F7DF;
    internal const uint RoCompatSparseSuper = 0x1;
    private const uint RoCompatLargeFile = 0x2;
    private const uint RoCompatBtreeDir = 0x4;
    internal const uint RoCompatGdtCsum = 0x10;
    internal const uint RoCompatBigalloc = 0x200;
    internal const uint RoCompatMetadataCsum = 0x400;

    // bg_flags: 0x1 is INODE_UNINIT; BLOCK_UNINIT is 0x2 (ext4.h EXT4_BG_BLOCK_UNINIT).
    private const ushort BgBlockUninit = 0x2;

    /// <summary>Bitmaps are read in chunks of at most this many bytes (one reused buffer).</summary>
    private const int BitmapChunkBytes = 8 << 20;

    /// <summary>The scanner covers the whole family; <see cref="Detect"/> tells ext2, ext3 and ext4 apart.</summary>
    public string Name => "ext";

    /// <summary>Bytes read from the device by the last <see cref="Scan"/>.</summary>
    public long BytesRead { get; private set; }

    public bool Probe(ReadOnlySpan<byte> head) =>
        head.Length >= SuperblockOffset + 0x3A &&
        BinaryPrimitives.ReadUInt16LittleEndian(head[(SuperblockOffset + 0x38)..]) == Magic;

    /// <summary>
    /// "ext2", "ext3" or "ext4" from the feature flags the way blkid decides (ext4 = any feature
    /// ext3 does not know; ext3 = has a journal), or null when <paramref name="head"/> is no ext superblock.
    /// </summary>
    public static string? Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length < SuperblockOffset + SuperblockSize) return null;
        var sb = head.Slice(SuperblockOffset, SuperblockSize);
        if (BinaryPrimitives.ReadUInt16LittleEndian(sb[0x38..]) != Magic) return null;
        uint compat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x5C..]);
        uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x60..]);
        uint roCompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x64..]);
        const uint ext3Incompat = IncompatFiletype | IncompatRecover | IncompatMetaBg;
        const uint ext3RoCompat = RoCompatSparseSuper | RoCompatLargeFile | RoCompatBtreeDir;
        if ((incompat & ~ext3Incompat) != 0 || (roCompat & ~ext3RoCompat) != 0) return "ext4";
        return (compat & CompatHasJournal) != 0 ? "ext3" : "ext2";
    }

    public BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength)
    {
        BytesRead = 0;
        var reader = new VolumeReader(device, volumeOffset, volumeLength, "ext");
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
        Span<byte> sbBuf = stackalloc byte[SuperblockSize];
        reader.Read(SuperblockOffset, sbBuf, "superblock");
        var fs = ExtGeometry.Parse(sbBuf, reader);

        var groups = ReadGroupDescriptors(reader, fs);
        var builder = new BlockMapBuilder(reader.VolumeLength, fs.BlockSize);

        // Boot area and superblock: everything up to and including the superblock's block, which
        // for 1 KiB blocks (first_data_block = 1) lies outside every group's bitmap.
        builder.AddBlocks(0, fs.FirstDataBlock + 1);

        var metadata = fs.HasGroupChecksums && groups.AnyBlockUninit ? MetadataRuns(fs, groups) : null;
        EmitGroups(reader, fs, groups, metadata, builder);

        // e2fsprogs also marks a BLOCK_UNINIT group's own bitmaps and inode table wherever flex_bg
        // put them; the host group's bitmap should already say so, but a miss would be corruption.
        if (metadata != null)
        {
            for (long g = 0; g < fs.GroupCount; g++)
            {
                if (!IsBlockUninit(fs, groups, g)) continue;
                builder.AddBlocks(groups.BlockBitmap[g], 1);
                builder.AddBlocks(groups.InodeBitmap[g], 1);
                builder.AddBlocks(groups.InodeTable[g], fs.InodeTableBlocks);
            }
        }
        return builder.Build();
    }

    /// <summary>Per-group descriptor fields the scan needs, parsed once into flat arrays.</summary>
    private sealed class GroupTable
    {
        public GroupTable(long count)
        {
            BlockBitmap = new long[count];
            InodeBitmap = new long[count];
            InodeTable = new long[count];
            Flags = new ushort[count];
        }

        public long[] BlockBitmap { get; }
        public long[] InodeBitmap { get; }
        public long[] InodeTable { get; }
        public ushort[] Flags { get; }
        public bool AnyBlockUninit { get; set; }
    }

    private static GroupTable ReadGroupDescriptors(VolumeReader reader, ExtGeometry fs)
    {
        int bs = fs.BlockSize;
        long descBlocks = fs.DescriptorBlocks;
        var table = new GroupTable(fs.GroupCount);
        // Descriptor blocks are read in runs of consecutive block numbers (without META_BG that is
        // one read of the whole table).
        const int maxRunBlocks = 256;
        var buf = new byte[checked(Math.Min(descBlocks, maxRunBlocks) * bs)];
        long i = 0;
        while (i < descBlocks)
        {
            long first = fs.DescriptorBlockLocation(i);
            int run = 1;
            while (i + run < descBlocks && run < maxRunBlocks && fs.DescriptorBlockLocation(i + run) == first + run) run++;
            fs.CheckBlockRange(first, run, $"group descriptor block {i}", reader);
            var span = buf.AsSpan(0, run * bs);
            reader.Read(first * bs, span, $"group descriptor block {i}");
            for (int b = 0; b < run; b++)
                ParseDescriptorBlock(span.Slice(b * bs, bs), (i + b) * fs.DescriptorsPerBlock, fs, table, reader);
            i += run;
        }
        return table;
    }

    private static void ParseDescriptorBlock(ReadOnlySpan<byte> block, long firstGroup, ExtGeometry fs, GroupTable table, VolumeReader reader)
    {
        for (int k = 0; k < fs.DescriptorsPerBlock; k++)
        {
            long g = firstGroup + k;
            if (g >= fs.GroupCount) return;
            var d = block.Slice(k * fs.DescSize, fs.DescSize);
            long blockBitmap = BinaryPrimitives.ReadUInt32LittleEndian(d);
            long inodeBitmap = BinaryPrimitives.ReadUInt32LittleEndian(d[0x04..]);
            long inodeTable = BinaryPrimitives.ReadUInt32LittleEndian(d[0x08..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(d[0x12..]);
            if (fs.DescSize >= 64)
            {
                blockBitmap |= (long)BinaryPrimitives.ReadUInt32LittleEndian(d[0x20..]) << 32;
                inodeBitmap |= (long)BinaryPrimitives.ReadUInt32LittleEndian(d[0x24..]) << 32;
                inodeTable |= (long)BinaryPrimitives.ReadUInt32LittleEndian(d[0x28..]) << 32;
            }
            fs.CheckBlockRange(blockBitmap, 1, $"group {g}'s block bitmap", reader);
            fs.CheckBlockRange(inodeBitmap, 1, $"group {g}'s inode bitmap", reader);
            fs.CheckBlockRange(inodeTable, fs.InodeTableBlocks, $"group {g}'s inode table", reader);
            table.BlockBitmap[g] = blockBitmap;
            table.InodeBitmap[g] = inodeBitmap;
            table.InodeTable[g] = inodeTable;
            table.Flags[g] = flags;
            if ((flags & BgBlockUninit) != 0) table.AnyBlockUninit = true;
        }
    }

    /// <summary>
    /// Every group's bitmaps and inode table as (first block, count), sorted by block. A
    /// BLOCK_UNINIT group has no valid bitmap on disk, and under flex_bg it may host the
    /// metadata of other groups, so its used set is computed from this list.
    /// </summary>
    private static (long Start, long Count)[] MetadataRuns(ExtGeometry fs, GroupTable groups)
    {
        var runs = new (long Start, long Count)[groups.BlockBitmap.Length * 3];
        for (long g = 0; g < groups.BlockBitmap.Length; g++)
        {
            runs[g * 3] = (groups.BlockBitmap[g], 1);
            runs[g * 3 + 1] = (groups.InodeBitmap[g], 1);
            runs[g * 3 + 2] = (groups.InodeTable[g], fs.InodeTableBlocks);
        }
        Array.Sort(runs);
        return runs;
    }

    private static void EmitGroups(VolumeReader reader, ExtGeometry fs, GroupTable groups, (long Start, long Count)[]? metadata, BlockMapBuilder builder)
    {
        int bs = fs.BlockSize;
        long groupCount = fs.GroupCount;
        int chunkGroups = (int)Math.Min(groupCount, Math.Max(1, BitmapChunkBytes / bs));
        var chunk = new byte[chunkGroups * bs];
        var order = new (long Block, int Slot)[chunkGroups];
        var runBuf = new byte[chunkGroups * bs];
        var computed = new byte[bs];

        for (long chunkStart = 0; chunkStart < groupCount; chunkStart += chunkGroups)
        {
            int n = (int)Math.Min(chunkGroups, groupCount - chunkStart);

            // Gather the bitmaps of this chunk's groups sorted by block number and read each run of
            // consecutive blocks with one read (flex_bg packs them together).
            int m = 0;
            for (int s = 0; s < n; s++)
            {
                if (!IsBlockUninit(fs, groups, chunkStart + s)) order[m++] = (groups.BlockBitmap[chunkStart + s], s);
            }
            Array.Sort(order, 0, m);
            int r = 0;
            while (r < m)
            {
                long first = order[r].Block;
                int end = r + 1;
                // Extend while the next bitmap is the same block (corrupt but harmless) or the next one.
                while (end < m && order[end].Block <= order[end - 1].Block + 1 && order[end].Block - first < chunkGroups) end++;
                int blocks = (int)(order[end - 1].Block - first + 1);
                var span = runBuf.AsSpan(0, blocks * bs);
                reader.Read(first * bs, span, $"block bitmap of group {chunkStart + order[r].Slot}");
                for (int k = r; k < end; k++)
                    span.Slice((int)(order[k].Block - first) * bs, bs).CopyTo(chunk.AsSpan(order[k].Slot * bs, bs));
                r = end;
            }

            for (int s = 0; s < n; s++)
            {
                long g = chunkStart + s;
                ReadOnlySpan<byte> bitmap;
                if (IsBlockUninit(fs, groups, g))
                {
                    ComputeUninitBitmap(fs, g, metadata!, computed);
                    bitmap = computed;
                }
                else
                {
                    bitmap = chunk.AsSpan(s * bs, bs);
                }
                EmitBitmap(fs, g, bitmap, builder);
            }
        }
    }

    private static bool IsBlockUninit(ExtGeometry fs, GroupTable groups, long g) =>
        fs.HasGroupChecksums && (groups.Flags[g] & BgBlockUninit) != 0;

    /// <summary>Turns set bits into block runs; bits past the end of the filesystem are not blocks.</summary>
    private static void EmitBitmap(ExtGeometry fs, long g, ReadOnlySpan<byte> bitmap, BlockMapBuilder builder)
    {
        int bits = fs.ClustersInGroup(g);
        int bit = 0;
        while (bit < bits)
        {
            int start = NextBit(bitmap, bit, bits, set: true);
            if (start >= bits) break;
            int end = NextBit(bitmap, start, bits, set: false);
            long firstBlock = fs.GroupFirstBlock(g) + (long)start * fs.ClusterRatio;
            long count = Math.Min((long)(end - start) * fs.ClusterRatio, fs.BlocksCount - firstBlock);
            builder.AddBlocks(firstBlock, count);
            bit = end;
        }
    }

    /// <summary>First bit at or after <paramref name="from"/> equal to <paramref name="set"/>, or <paramref name="limit"/>.</summary>
    private static int NextBit(ReadOnlySpan<byte> bitmap, int from, int limit, bool set)
    {
        while (from < limit)
        {
            int word = from >> 6;
            // ext bitmaps are little-endian bit strings: bit i is bit (i % 8) of byte i / 8.
            ulong w = BinaryPrimitives.ReadUInt64LittleEndian(bitmap.Slice(word * 8, 8));
            if (!set) w = ~w;
            w &= ulong.MaxValue << (from & 63);
            if (w != 0) return Math.Min(limit, (word << 6) + BitOperations.TrailingZeroCount(w));
            from = (word + 1) << 6;
        }
        return limit;
    }

    /// <summary>
    /// The used set of a BLOCK_UNINIT group, as e2fsprogs' ext2fs_reserve_super_and_bgd and the
    /// kernel's ext4_init_block_bitmap compute it: superblock backup, descriptor blocks and reserved
    /// GDT blocks when the group holds a backup, plus any group's bitmaps and inode table that
    /// lie inside this group.
    /// </summary>
    private static void ComputeUninitBitmap(ExtGeometry fs, long g, (long Start, long Count)[] metadata, Span<byte> bitmap)
    {
        bitmap.Clear();
        long first = fs.GroupFirstBlock(g);
        long end = first + (long)fs.ClustersInGroup(g) * fs.ClusterRatio;
        var (superBlocks, gdtBlock, gdtCount) = fs.SuperAndDescriptors(g);
        MarkBlocks(fs, first, end, first, superBlocks, bitmap);
        if (gdtCount > 0) MarkBlocks(fs, first, end, gdtBlock, gdtCount, bitmap);

        // Binary search the first run that could reach into this group: runs are sorted by start and
        // none is longer than an inode table.
        long from = first - fs.InodeTableBlocks;
        int lo = 0, hi = metadata.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (metadata[mid].Start < from) lo = mid + 1;
            else hi = mid;
        }
        for (int i = lo; i < metadata.Length && metadata[i].Start < end; i++)
            MarkBlocks(fs, first, end, metadata[i].Start, metadata[i].Count, bitmap);
    }

    private static void MarkBlocks(ExtGeometry fs, long groupFirst, long groupEnd, long start, long count, Span<byte> bitmap)
    {
        long s = Math.Max(start, groupFirst);
        long e = Math.Min(start + count, groupEnd);
        for (long b = s; b < e; b++)
        {
            long bit = (b - groupFirst) / fs.ClusterRatio;
            bitmap[(int)(bit >> 3)] |= (byte)(1 << (int)(bit & 7));
        }
    }

}
