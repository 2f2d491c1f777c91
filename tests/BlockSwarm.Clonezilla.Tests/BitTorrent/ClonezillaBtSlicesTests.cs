using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.Tests.BitTorrent;

/// <summary>How partclone's restore loop (<c>-r -T --buffer_size 16777216</c>) cuts the used runs into slice files.</summary>
public sealed class ClonezillaBtSlicesTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void Runs_inside_one_buffer_are_one_file_each()
    {
        Extent[] used = [new(0, 4096), new(8192, 3 * MiB), new(100 * MiB, 4096)];
        Assert.Equal(used, ClonezillaBtSlices.Cut(used, 4096));
    }

    [Fact]
    public void A_new_file_starts_at_every_16_MiB_of_used_data_not_of_run_length()
    {
        // 4 MiB used first; the second run crosses the 16 MiB mark of used data 12 MiB in, and the 32 MiB mark 16 MiB later.
        Extent[] used = [new(0, 4 * MiB), new(64 * MiB, 40 * MiB)];
        Extent[] expected = [new(0, 4 * MiB), new(64 * MiB, 12 * MiB), new(76 * MiB, 16 * MiB), new(92 * MiB, 12 * MiB)];
        Assert.Equal(expected, ClonezillaBtSlices.Cut(used, 4096));
    }

    [Fact]
    public void A_run_ending_on_the_mark_leaves_no_empty_file_and_adjacent_extents_are_one_run()
    {
        Extent[] used = [new(0, 16 * MiB), new(20 * MiB, 1 * MiB), new(21 * MiB, 2 * MiB)];
        Extent[] expected = [new(0, 16 * MiB), new(20 * MiB, 3 * MiB)];
        Assert.Equal(expected, ClonezillaBtSlices.Cut(used, 512));
        // Split exactly at the mark: adjacent extents still part there.
        Extent[] atMark = [new(0, 8 * MiB), new(8 * MiB, 8 * MiB), new(16 * MiB, 4096)];
        Assert.Equal([new Extent(0, 16 * MiB), new Extent(16 * MiB, 4096)], ClonezillaBtSlices.Cut(atMark, 4096));
    }

    [Fact]
    public void The_buffer_holds_whole_blocks_and_at_least_one()
    {
        // 16 MiB / 3 MiB blocks = 5 blocks per buffer (15 MiB); blocks larger than the buffer go one at a time.
        Assert.Equal(5, ClonezillaBtSlices.BlocksPerBuffer(3 << 20));
        Extent[] used = [new(0, 12L * (3 << 20))];
        Assert.Equal([new Extent(0, 15 * MiB), new Extent(15 * MiB, 15 * MiB), new Extent(30 * MiB, 6 * MiB)], ClonezillaBtSlices.Cut(used, 3 << 20));
        Assert.Equal(1, ClonezillaBtSlices.BlocksPerBuffer(32 << 20));
        Assert.Equal([new Extent(0, 32 * MiB), new Extent(32 * MiB, 32 * MiB)], ClonezillaBtSlices.Cut([new Extent(0, 64 * MiB)], 32 << 20));
    }

    [Fact]
    public void Extents_that_are_not_whole_blocks_or_out_of_order_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ClonezillaBtSlices.Cut([new Extent(512, 4096)], 4096));
        Assert.Throws<ArgumentException>(() => ClonezillaBtSlices.Cut([new Extent(8192, 4096), new Extent(0, 4096)], 4096));
    }
}
