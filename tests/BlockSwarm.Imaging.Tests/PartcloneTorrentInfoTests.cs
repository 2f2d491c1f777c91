using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests;

public sealed class PartcloneTorrentInfoTests
{
    private const string Sample = """
        block_size: 4096
        blocks_total: 1024
        offset: 00000000000000000000000000000000
        length: 00000000000000000000000000100000
        offset: 00000000000000000000000000100000
        sha1: 93ae8f4e284740ce3b3df0c80ce4822bd7b052eb
        length: 00000000000000000000000000001000
        offset: 00000000000000000000000000200000
        length: 00000000000000000000000000002000
        """;

    [Fact]
    public void Parses_by_pattern_with_interleaved_sha1_lines()
    {
        var info = PartcloneTorrentInfo.Parse(Sample);
        Assert.Equal(4096, info.BlockSize);
        Assert.Equal(1024, info.BlocksTotal);
        Assert.Equal(4L << 20, info.Map.DeviceSize);
        // Kept exactly as listed: the two adjacent runs are not merged.
        Assert.Equal([new Extent(0, 0x100000), new Extent(0x100000, 0x1000), new Extent(0x200000, 0x2000)], info.Map.Extents);
        Assert.Single(info.PieceHashes);
    }

    [Theory]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: 0\nlength: 00000000000000000000000000010000\n", "past the device size")]
    [InlineData("block_size: 4096\nblocks_total: 10\nbanana: 1\n", "line 3: unrecognised")]
    [InlineData("block_size: 4095\nblocks_total: 10\n", "not a power of two")]
    [InlineData("blocks_total: 10\n", "no block_size")]
    [InlineData("block_size: 4096\n", "no blocks_total")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: 0\n", "1 offset lines but 0 length lines")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: xyz\nlength: 1\n", "line 3: offset 'xyz'")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: 1000\nlength: 1000\noffset: 0\nlength: 1000\n", "out of order")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: 0\nlength: 0\n", "length is zero")]
    [InlineData("block_size: 4096\nblocks_total: 10\nsha1: 1234\n", "not 40 hex digits")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: 0\nlength: 1000\nsha1: 93ae8f4e284740ce3b3df0c80ce4822bd7b052eb\nsha1: 93ae8f4e284740ce3b3df0c80ce4822bd7b052eb\n", "2 sha1 lines")]
    [InlineData("block_size: 4096\nblocks_total: 10\noffset: ffffffffffffffffffff\nlength: 1\n", "does not fit")]
    public void Malformed_files_name_the_problem(string text, string message)
    {
        var ex = Assert.Throws<BlockMapException>(() => PartcloneTorrentInfo.Parse(text));
        Assert.Contains(message, ex.Message);
    }
}
