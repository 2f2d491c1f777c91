using BlockSwarm.Metainfo;

namespace BlockSwarm.Metainfo.Tests;

public sealed class PieceSizingTests
{
    [Theory]
    [InlineData(1L << 20, 64 << 10)]
    [InlineData(10L << 30, 8 << 20)]
    [InlineData(2L << 30, 2 << 20)]
    [InlineData(100L << 40, 16 << 20)]
    public void Auto_aims_at_1000_to_2000_pieces(long used, int expected)
    {
        int p = PieceSizing.Auto(used);
        Assert.Equal(expected, p);
        long pieces = (used + p - 1) / p;
        if (p is > PieceSizing.MinAuto and < PieceSizing.MaxAuto) Assert.InRange(pieces, 1000, 2000);
    }

    [Fact]
    public void Parse_accepts_units_and_rejects_non_powers_of_two()
    {
        Assert.Equal(16 << 20, PieceSizing.Parse("16MiB", 0));
        Assert.Equal(512 << 10, PieceSizing.Parse("512k", 0));
        Assert.Throws<FormatException>(() => PieceSizing.Parse("3MiB", 0));
        Assert.Throws<FormatException>(() => PieceSizing.Parse("banana", 0));
        Assert.Throws<FormatException>(() => PieceSizing.Parse("1k", 0));
    }
}
