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
    private const int SuperblockOffset = 1024;
    private const int SuperblockSize = 1024;
    private const ushort Magic = 0xEF53;

    // Feature bits (include/linux/ext4.h, lib/ext2fs/ext2_fs.h).
    private const uint CompatHasJournal = 0x4;
    private const uint CompatSparseSuper2 = 0x200;
    private const uint IncompatFiletype = 0x2;
    private const uint IncompatRecover = 0x4;
    private const uint IncompatJournalDev = 0x8;
    private const uint IncompatMetaBg = 0x10;
    private const uint Incompat64Bit = 0x80;
    // Every incompat bit e2fsprogs knows; none changes how block bitmaps work. An unknown bit
    // might, so such a filesystem is refused rather than guessed at.
    private const uint IncompatKnown = 0x3F7DF;
    private const uint RoCompatSparseSuper = 0x1;
    private const uint RoCompatLargeFile = 0x2;
    private const uint RoCompatBtreeDir = 0x4;
    private const uint RoCompatGdtCsum = 0x10;
    private const uint RoCompatBigalloc = 0x200;
    private const uint RoCompatMetadataCsum = 0x400;

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
        var fs = Geometry.Parse(sbBuf, reader);

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

    private static GroupTable ReadGroupDescriptors(VolumeReader reader, Geometry fs)
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

    private static void ParseDescriptorBlock(ReadOnlySpan<byte> block, long firstGroup, Geometry fs, GroupTable table, VolumeReader reader)
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
    private static (long Start, long Count)[] MetadataRuns(Geometry fs, GroupTable groups)
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

    private static void EmitGroups(VolumeReader reader, Geometry fs, GroupTable groups, (long Start, long Count)[]? metadata, BlockMapBuilder builder)
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

    private static bool IsBlockUninit(Geometry fs, GroupTable groups, long g) =>
        fs.HasGroupChecksums && (groups.Flags[g] & BgBlockUninit) != 0;

    /// <summary>Turns set bits into block runs; bits past the end of the filesystem are not blocks.</summary>
    private static void EmitBitmap(Geometry fs, long g, ReadOnlySpan<byte> bitmap, BlockMapBuilder builder)
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
    private static void ComputeUninitBitmap(Geometry fs, long g, (long Start, long Count)[] metadata, Span<byte> bitmap)
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

    private static void MarkBlocks(Geometry fs, long groupFirst, long groupEnd, long start, long count, Span<byte> bitmap)
    {
        long s = Math.Max(start, groupFirst);
        long e = Math.Min(start + count, groupEnd);
        for (long b = s; b < e; b++)
        {
            long bit = (b - groupFirst) / fs.ClusterRatio;
            bitmap[(int)(bit >> 3)] |= (byte)(1 << (int)(bit & 7));
        }
    }

    /// <summary>Superblock geometry, validated so that no later computation can overflow or index out of range.</summary>
    private sealed class Geometry
    {
        private Geometry() { }

        public int BlockSize { get; private init; }
        public long BlocksCount { get; private init; }
        public long FirstDataBlock { get; private init; }
        public long BlocksPerGroup { get; private init; }
        public int ClustersPerGroup { get; private init; }
        public int ClusterRatio { get; private init; }
        public long GroupCount { get; private init; }
        public int DescSize { get; private init; }
        public int DescriptorsPerBlock => BlockSize / DescSize;
        public long DescriptorBlocks => (GroupCount + DescriptorsPerBlock - 1) / DescriptorsPerBlock;
        public long InodeTableBlocks { get; private init; }
        public long ReservedGdtBlocks { get; private init; }
        public bool MetaBg { get; private init; }
        public long FirstMetaBg { get; private init; }
        public bool SparseSuper { get; private init; }
        public bool SparseSuper2 { get; private init; }
        public long BackupGroup0 { get; private init; }
        public long BackupGroup1 { get; private init; }
        public bool HasGroupChecksums { get; private init; }

        public static Geometry Parse(ReadOnlySpan<byte> sb, VolumeReader reader)
        {
            if (BinaryPrimitives.ReadUInt16LittleEndian(sb[0x38..]) != Magic)
                throw reader.Corrupt($"no ext2/3/4 superblock magic (0x{Magic:X4}) at byte {SuperblockOffset}");
            uint compat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x5C..]);
            uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x60..]);
            uint roCompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x64..]);
            if ((incompat & IncompatJournalDev) != 0)
                throw reader.Corrupt("this is an external journal device, not a filesystem with block bitmaps");
            if ((incompat & ~IncompatKnown) != 0)
                throw reader.Corrupt($"unknown incompatible features 0x{incompat & ~IncompatKnown:x}; cannot tell which blocks are used");

            uint logBlock = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x18..]);
            if (logBlock > 6) throw reader.Corrupt($"block size 1024 << {logBlock} is outside 1 KiB..64 KiB");
            int bs = 1024 << (int)logBlock;

            bool is64 = (incompat & Incompat64Bit) != 0;
            long blocks = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x04..]);
            if (is64) blocks |= (long)BinaryPrimitives.ReadUInt32LittleEndian(sb[0x150..]) << 32;
            if (blocks <= 0) throw reader.Corrupt("blocks count is zero");
            if (blocks > reader.VolumeLength / bs)
                throw new BlockMapException(
                    $"ext: the filesystem has {blocks} blocks of {bs} bytes ({blocks * (double)bs:0} bytes) but the volume holds only {reader.VolumeLength} bytes; the image is truncated or the partition too small, try --map nonzero");

            long firstData = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x14..]);
            if (firstData > 1 || firstData >= blocks)
                throw reader.Corrupt($"first data block {firstData} is not 0 or 1");

            int ratio = 1;
            bool bigalloc = (roCompat & RoCompatBigalloc) != 0;
            if (bigalloc)
            {
                uint logCluster = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x1C..]);
                if (logCluster < logBlock || logCluster - logBlock > 16)
                    throw reader.Corrupt($"cluster size 1024 << {logCluster} does not fit block size {bs}");
                ratio = 1 << (int)(logCluster - logBlock);
            }
            long bpg = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x20..]);
            long cpg = bigalloc ? BinaryPrimitives.ReadUInt32LittleEndian(sb[0x24..]) : bpg;
            // One bitmap block holds 8 * block size bits, so a group can never be larger.
            if (cpg <= 0 || cpg > 8L * bs || cpg % 8 != 0)
                throw reader.Corrupt($"{cpg} {(bigalloc ? "clusters" : "blocks")} per group is zero, not a multiple of 8 or more than one bitmap block ({8 * bs}) can describe");
            if (bigalloc && bpg != cpg * ratio)
                throw reader.Corrupt($"blocks per group {bpg} is not clusters per group {cpg} x cluster ratio {ratio}");

            long ipg = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x28..]);
            uint rev = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x4C..]);
            int inodeSize = rev >= 1 ? BinaryPrimitives.ReadUInt16LittleEndian(sb[0x58..]) : 128;
            if (ipg <= 0 || ipg > 8L * bs)
                throw reader.Corrupt($"{ipg} inodes per group is zero or more than one inode bitmap block can describe");
            if (inodeSize < 128 || inodeSize > bs || !BitOperations.IsPow2(inodeSize))
                throw reader.Corrupt($"inode size {inodeSize} is not a power of two between 128 and the block size");

            int descSize = 32;
            if (is64)
            {
                descSize = BinaryPrimitives.ReadUInt16LittleEndian(sb[0xFE..]);
                if (descSize < 64 || descSize > 1024 || !BitOperations.IsPow2(descSize))
                    throw reader.Corrupt($"group descriptor size {descSize} is not a power of two between 64 and 1024");
            }

            long groupCount = (blocks - firstData + bpg - 1) / bpg;
            long reservedGdt = BinaryPrimitives.ReadUInt16LittleEndian(sb[0xCE..]);
            var g = new Geometry
            {
                BlockSize = bs,
                BlocksCount = blocks,
                FirstDataBlock = firstData,
                BlocksPerGroup = bpg,
                ClustersPerGroup = (int)cpg,
                ClusterRatio = ratio,
                GroupCount = groupCount,
                DescSize = descSize,
                InodeTableBlocks = (ipg * inodeSize + bs - 1) / bs,
                ReservedGdtBlocks = reservedGdt,
                MetaBg = (incompat & IncompatMetaBg) != 0,
                FirstMetaBg = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x104..]),
                SparseSuper = (roCompat & RoCompatSparseSuper) != 0,
                SparseSuper2 = (compat & CompatSparseSuper2) != 0,
                BackupGroup0 = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x24C..]),
                BackupGroup1 = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x250..]),
                HasGroupChecksums = (roCompat & (RoCompatGdtCsum | RoCompatMetadataCsum)) != 0,
            };
            if (!g.MetaBg && 1 + g.DescriptorBlocks + reservedGdt > bpg)
                throw reader.Corrupt($"{g.DescriptorBlocks} descriptor blocks + {reservedGdt} reserved do not fit in a group of {bpg} blocks");
            return g;
        }

        public long GroupFirstBlock(long g) => FirstDataBlock + g * BlocksPerGroup;

        /// <summary>Bits of group <paramref name="g"/>'s bitmap that describe real blocks (the last group may be short).</summary>
        public int ClustersInGroup(long g)
        {
            long blocksLeft = BlocksCount - GroupFirstBlock(g);
            long clusters = (blocksLeft + ClusterRatio - 1) / ClusterRatio;
            return (int)Math.Min(ClustersPerGroup, clusters);
        }

        /// <summary>ext2fs_bg_has_super: group 0 always; sparse_super2 lists two groups; sparse_super keeps 1 and powers of 3, 5, 7.</summary>
        public bool HasSuper(long g)
        {
            if (g == 0) return true;
            if (SparseSuper2) return g == BackupGroup0 || g == BackupGroup1;
            if (g <= 1 || !SparseSuper) return true;
            if ((g & 1) == 0) return false;
            return IsPowerOf(g, 3) || IsPowerOf(g, 5) || IsPowerOf(g, 7);
        }

        private static bool IsPowerOf(long g, long b)
        {
            long n = b;
            while (n < g) n *= b;
            return n == g;
        }

        private long MetaBgSize => DescriptorsPerBlock;

        /// <summary>Block number of descriptor block <paramref name="i"/> (the primary copy).</summary>
        public long DescriptorBlockLocation(long i)
        {
            // Without META_BG (and for the first s_first_meta_bg blocks with it) the table follows
            // the primary superblock; with META_BG each block lives in the first group of its meta group.
            if (!MetaBg || i < FirstMetaBg) return FirstDataBlock + 1 + i;
            long g = i * MetaBgSize;
            return GroupFirstBlock(g) + (HasSuper(g) ? 1 : 0);
        }

        /// <summary>
        /// ext2fs_super_and_bgd_loc2: (blocks of superblock at the group start, first descriptor
        /// block, descriptor + reserved GDT block count) for group <paramref name="g"/>.
        /// </summary>
        public (long SuperBlocks, long GdtBlock, long GdtCount) SuperAndDescriptors(long g)
        {
            long first = GroupFirstBlock(g);
            bool hasSuper = HasSuper(g);
            long superBlocks = hasSuper ? 1 : 0;
            // Group 0 with 4K+ blocks: block 0 holds boot area and superblock; with 1 KiB blocks
            // block 1 does (block 0 is outside every group and marked separately).
            long metaBg = g / MetaBgSize;
            if (!MetaBg || metaBg < FirstMetaBg)
            {
                if (!hasSuper) return (0, 0, 0);
                // e2fsprogs counts s_first_meta_bg old-style blocks under META_BG, the kernel the whole
                // table plus reserved blocks; take the larger so nothing is missed.
                long count = DescriptorBlocks + ReservedGdtBlocks;
                if (MetaBg) count = Math.Max(count, FirstMetaBg);
                return (superBlocks, first + 1, count);
            }
            long inMeta = g % MetaBgSize;
            if (inMeta == 0 || inMeta == 1 || inMeta == MetaBgSize - 1)
                return (superBlocks, first + superBlocks, 1);
            return (superBlocks, 0, 0);
        }

        public void CheckBlockRange(long start, long count, string what, VolumeReader reader)
        {
            // Nothing but the superblock may sit at or below first_data_block.
            if (start <= FirstDataBlock || count < 0 || start > BlocksCount - count)
                throw reader.Corrupt($"{what} at block {start} (+{count}) lies outside the filesystem's {BlocksCount} blocks");
        }
    }
}
