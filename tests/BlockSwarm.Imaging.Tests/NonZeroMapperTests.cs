using BlockSwarm.Imaging;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests;

public sealed class NonZeroMapperTests
{
    [Fact]
    public void Finds_exactly_the_non_zero_blocks_across_chunk_boundaries()
    {
        using var dir = new TempDirectory("nonzero");
        var path = dir.File("img");
        long size = (9L << 20) + 1000; // not a multiple of the block size
        using (var f = new FileStream(path, FileMode.Create))
        {
            f.SetLength(size);
            foreach (long at in new long[] { 0, 4095, 4096 * 3, (4L << 20) - 1, 4L << 20, size - 1 })
            {
                f.Position = at;
                f.WriteByte(0x5a);
            }
        }
        using var dev = DeviceFile.OpenRead(path);
        var map = NonZeroMapper.Map(dev);
        Assert.Equal(
            [new Extent(0, 4096), new Extent(4096 * 3, 4096), new Extent((4L << 20) - 4096, 8192), new Extent(size - 1000, 1000)],
            map.Extents);
        Assert.Equal(size, map.DeviceSize);
    }

    [Fact]
    public void Resolver_handles_specs_and_rejects_empty_sources()
    {
        using var dir = new TempDirectory("resolver");
        var empty = dir.File("empty");
        File.WriteAllBytes(empty, []);
        using (var dev = DeviceFile.OpenRead(empty))
            Assert.Contains("empty", Assert.Throws<BlockMapException>(() => MapResolver.Resolve(MapSpec.Parse("all"), dev)).Message);
        var img = dir.File("img");
        File.WriteAllBytes(img, new byte[8192]);
        using var d2 = DeviceFile.OpenRead(img);
        Assert.Equal([new Extent(0, 8192)], MapResolver.Resolve(MapSpec.Parse("all"), d2).Map.Extents);
        var info = dir.File("torrent.info");
        File.WriteAllText(info, "block_size: 4096\nblocks_total: 4\noffset: 0\nlength: 4000\n");
        var ex = Assert.Throws<BlockMapException>(() => MapResolver.Resolve(MapSpec.Parse("partclone:" + info), d2));
        Assert.Contains("only 8192 bytes", ex.Message);
        Assert.Throws<FormatException>(() => MapSpec.Parse("bogus"));
        Assert.Throws<FileNotFoundException>(() => DeviceFile.OpenRead(dir.File("missing")));
    }

    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("64k", 65536L)]
    [InlineData("16MiB", 16L << 20)]
    [InlineData("1.5G", 3L << 29)]
    public void Sizes_parse(string text, long expected) => Assert.Equal(expected, SizeParser.Parse(text));
}
