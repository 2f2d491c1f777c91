using BlockSwarm.Bencode;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using CsCheck;
using BlockSwarm.Devices;

namespace BlockSwarm.Metainfo.Tests;

public sealed class BlockImageLayoutTests
{
    private static Torrent Make(params (string Name, long Length)[] files)
    {
        var b = new TorrentBuilder("sda1", 16384);
        long total = files.Sum(f => f.Length);
        b.PieceHashes = new byte[(int)((total + 16383) / 16384) * 20];
        foreach (var (n, l) in files) b.AddFile([n], l);
        return b.Build();
    }

    [Fact]
    public void Maps_hex_names_to_extents()
    {
        var t = Make(("00000000000000000000000000000000", 4096), ("00000000000000000000000000100000", 8192), ("0000000000200000", 100));
        var layout = BlockImageLayout.Create(t, 4 << 20);
        Assert.Equal([new Extent(0, 4096), new Extent(0x100000, 8192), new Extent(0x200000, 100)], layout.Extents);
        Assert.Equal(0x200000 + 100, layout.RequiredDeviceSize);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000g", "32 (or 16) hex digits")]
    [InlineData("000000000000000000000000000000", "32 (or 16) hex digits")]
    [InlineData("10000000000000000000000000000000", "32 (or 16) hex digits")]
    [InlineData("ffffffffffffffff", "32 (or 16) hex digits")]
    public void Rejects_non_hex_names(string name, string message)
    {
        var ex = Assert.Throws<TorrentException>(() => BlockImageLayout.Create(Make((name, 10))));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Rejects_overlap_disorder_and_past_device_end()
    {
        var overlap = Make((BlockImageLayout.FormatHexOffset(0), 8192), (BlockImageLayout.FormatHexOffset(4096), 10));
        Assert.Contains("overlap", Assert.Throws<TorrentException>(() => BlockImageLayout.Create(overlap)).Message);
        var disorder = Make((BlockImageLayout.FormatHexOffset(8192), 10), (BlockImageLayout.FormatHexOffset(0), 10));
        Assert.Contains("out of order", Assert.Throws<TorrentException>(() => BlockImageLayout.Create(disorder)).Message);
        var fine = Make((BlockImageLayout.FormatHexOffset(1 << 20), 4096));
        Assert.Contains("past the device size", Assert.Throws<TorrentException>(() => BlockImageLayout.Create(fine, 1 << 20)).Message);
        BlockImageLayout.Create(fine, (1 << 20) + 4096);
    }

    [Fact]
    public void Rejects_nested_paths_and_single_file_torrents()
    {
        var b = new TorrentBuilder("x", 16384) { PieceHashes = new byte[20] };
        b.AddFile(["dir", BlockImageLayout.FormatHexOffset(0)], 10);
        Assert.Contains("one path component", Assert.Throws<TorrentException>(() => BlockImageLayout.Create(b.Build())).Message);
        var single = new TorrentBuilder("x", 16384) { PieceHashes = new byte[20], ForceMultiFile = false };
        single.AddFile(["x"], 10);
        Assert.Contains("single-file", Assert.Throws<TorrentException>(() => BlockImageLayout.Create(single.Build())).Message);
    }

    [Fact]
    public void Map_range_is_exact_against_a_byte_model()
    {
        // Random sorted, non-overlapping extents; every stream range maps to the device bytes a naive model gives.
        var gen = Gen.Select(Gen.Int[1, 3000].Array[1, 8], Gen.Int[0, 3000].Array[8], Gen.Int[0, 20000], Gen.Int[0, 5000]);
        gen.Sample((lengths, gaps, startRaw, lenRaw) =>
        {
            var extents = new List<Extent>();
            long pos = 0;
            for (int i = 0; i < lengths.Length; i++)
            {
                pos += gaps[i];
                extents.Add(new Extent(pos, lengths[i]));
                pos += lengths[i];
            }
            var stream = new ExtentStream([.. extents]);
            var model = extents.SelectMany(e => Enumerable.Range(0, (int)e.Length).Select(k => e.Offset + k)).ToArray();
            long start = startRaw % stream.Length;
            int len = (int)Math.Min(lenRaw, stream.Length - start);
            var slices = new List<DeviceSlice>();
            stream.MapRange(start, len, slices);
            var mapped = slices.SelectMany(s => Enumerable.Range(0, s.Length).Select(k => s.DeviceOffset + k)).ToArray();
            Assert.Equal(model.Skip((int)start).Take(len), mapped);
            int expectBuf = 0;
            foreach (var s in slices)
            {
                Assert.Equal(expectBuf, s.BufferOffset);
                expectBuf += s.Length;
            }
        }, iter: 500, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void First_difference_looks_only_inside_the_extents()
    {
        using var dir = new BlockSwarm.Testing.TempDirectory("diff");
        var t = Make((BlockImageLayout.FormatHexOffset(4096), 8192));
        var layout = BlockImageLayout.Create(t);
        var a = dir.File("a");
        var b = dir.File("b");
        var data = new byte[1 << 16];
        new Random(3).NextBytes(data);
        File.WriteAllBytes(a, data);
        data[100] ^= 1; // outside the extent: ignored
        File.WriteAllBytes(b, data);
        Assert.Null(layout.FirstDifference(a, b));
        data[4096 + 5000] ^= 1;
        File.WriteAllBytes(b, data);
        Assert.Equal(4096 + 5000, layout.FirstDifference(a, b));
    }

    [Fact]
    public void Hex_offset_format_is_32_lowercase_digits()
    {
        Assert.Equal("000000000000000000000000deadbeef", BlockImageLayout.FormatHexOffset(0xdeadbeef));
        Assert.True(BlockImageLayout.TryParseHexOffset("000000000000000000000000DEADBEEF", out long v));
        Assert.Equal(0xdeadbeef, v);
    }
}
