using BlockSwarm.Clonezilla.Compression;

namespace BlockSwarm.Clonezilla.Tests.Compression;

public sealed class Adler32Tests
{
    private static uint Reference(ReadOnlySpan<byte> data)
    {
        ulong a = 1, b = 0;
        foreach (byte x in data)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }
        return (uint)(b << 16 | a);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(5536)]
    [InlineData(5553)]
    [InlineData(100_003)]
    [InlineData(262_144)]
    public void The_vectorized_sum_equals_the_definition(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        Assert.Equal(Reference(data), Adler32.Compute(data));
        Array.Fill(data, (byte)0xff);
        Assert.Equal(Reference(data), Adler32.Compute(data));
    }

    [Fact]
    public void Wikipedia_is_its_known_value() => Assert.Equal(0x11E60398u, Adler32.Compute("Wikipedia"u8));
}
