using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests;

public sealed class BlockMapTests
{
    [Fact]
    public void FromExtents_rejects_overlap_and_out_of_order()
    {
        var ex = Assert.Throws<BlockMapException>(() => BlockMap.FromExtents(100, 1, [new Extent(0, 10), new Extent(5, 10)]));
        Assert.Contains("overlap", ex.Message);
        Assert.Throws<BlockMapException>(() => BlockMap.FromExtents(100, 1, [new Extent(50, 10), new Extent(0, 10)]));
    }

    [Fact]
    public void FromExtents_rejects_extent_past_device_end()
    {
        var ex = Assert.Throws<BlockMapException>(() => BlockMap.FromExtents(100, 1, [new Extent(95, 10)]));
        Assert.Contains("past the device size", ex.Message);
    }

    [Fact]
    public void Normalize_merges_adjacent_and_overlapping()
    {
        var map = BlockMap.Normalize(100, 1, [new Extent(20, 5), new Extent(0, 10), new Extent(10, 5), new Extent(22, 10)]);
        Assert.Equal([new Extent(0, 15), new Extent(20, 12)], map.Extents);
        Assert.Equal(27, map.UsedBytes);
    }

    [Fact]
    public void Difference_and_covers()
    {
        var a = BlockMap.FromExtents(100, 1, [new Extent(0, 50)]);
        var b = BlockMap.FromExtents(100, 1, [new Extent(10, 10), new Extent(30, 5)]);
        var d = a.Difference(b);
        Assert.Equal([new Extent(0, 10), new Extent(20, 10), new Extent(35, 15)], d.Extents);
        Assert.True(a.Covers(b));
        Assert.False(b.Covers(a));
    }

    [Fact]
    public void Shift_moves_partition_map_onto_disk()
    {
        var part = BlockMap.FromExtents(2048, 512, [new Extent(0, 512), new Extent(1024, 512)]);
        var disk = part.Shift(1 << 20, 4 << 20);
        Assert.Equal([new Extent(1 << 20, 512), new Extent((1 << 20) + 1024, 512)], disk.Extents);
        Assert.Equal(4 << 20, disk.DeviceSize);
    }

    [Fact]
    public void Builder_merges_consecutive_blocks_and_rejects_out_of_range()
    {
        var b = new BlockMapBuilder(4096 * 10, 4096);
        b.AddBlocks(0, 1);
        b.AddBlocks(1, 2);
        b.AddBlocks(5, 1);
        b.AddBlocks(4, 1);
        var map = b.Build();
        Assert.Equal([new Extent(0, 3 * 4096), new Extent(4 * 4096, 2 * 4096)], map.Extents);
        Assert.Throws<BlockMapException>(() => b.AddBlocks(9, 2));
    }

    [Fact]
    public void SplitRuns_cuts_at_buffer_size()
    {
        var map = BlockMap.FromExtents(10 << 20, 4096, [new Extent(0, 5 << 20)]).SplitRuns(2 << 20);
        Assert.Equal([new Extent(0, 2 << 20), new Extent(2 << 20, 2 << 20), new Extent(4 << 20, 1 << 20)], map.Extents);
    }
}
