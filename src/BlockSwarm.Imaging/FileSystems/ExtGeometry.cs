using System.Buffers.Binary;
using System.Numerics;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.FileSystems;

/// <summary>Superblock geometry, validated so that no later computation can overflow or index out of range.</summary>
internal sealed class ExtGeometry
{
    private ExtGeometry() { }

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

    public static ExtGeometry Parse(ReadOnlySpan<byte> sb, VolumeReader reader)
    {
        if (BinaryPrimitives.ReadUInt16LittleEndian(sb[0x38..]) != ExtScanner.Magic)
            throw reader.Corrupt($"no ext2/3/4 superblock magic (0x{ExtScanner.Magic:X4}) at byte {ExtScanner.SuperblockOffset}");
        uint compat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x5C..]);
        uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x60..]);
        uint roCompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x64..]);
        if ((incompat & ExtScanner.IncompatJournalDev) != 0)
            throw reader.Corrupt("this is an external journal device, not a filesystem with block bitmaps");
        if ((incompat & ~ExtScanner.IncompatKnown) != 0)
            throw reader.Corrupt($"unknown incompatible features 0x{incompat & ~ExtScanner.IncompatKnown:x}; cannot tell which blocks are used");

        uint logBlock = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x18..]);
        if (logBlock > 6) throw reader.Corrupt($"block size 1024 << {logBlock} is outside 1 KiB..64 KiB");
        int bs = 1024 << (int)logBlock;

        bool is64 = (incompat & ExtScanner.Incompat64Bit) != 0;
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
        bool bigalloc = (roCompat & ExtScanner.RoCompatBigalloc) != 0;
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
        var g = new ExtGeometry
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
            MetaBg = (incompat & ExtScanner.IncompatMetaBg) != 0,
            FirstMetaBg = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x104..]),
            SparseSuper = (roCompat & ExtScanner.RoCompatSparseSuper) != 0,
            SparseSuper2 = (compat & ExtScanner.CompatSparseSuper2) != 0,
            BackupGroup0 = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x24C..]),
            BackupGroup1 = BinaryPrimitives.ReadUInt32LittleEndian(sb[0x250..]),
            HasGroupChecksums = (roCompat & (ExtScanner.RoCompatGdtCsum | ExtScanner.RoCompatMetadataCsum)) != 0,
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
