using BlockSwarm.Clonezilla.Partclone;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

public sealed class Format1CrcTests
{
    /// <summary>The five-look-up form equals format 1's loop (the first byte fed block-size times) for any state and byte.</summary>
    [Theory]
    [InlineData(512)]
    [InlineData(1000)]
    [InlineData(4096)]
    [InlineData(65536)]
    public void The_table_form_equals_the_loop_it_replaces(int blockSize)
    {
        var crc = new StripChecksum.Format1Crc(blockSize);
        var random = new Random(blockSize);
        for (int i = 0; i < 200; i++)
        {
            uint state = (uint)random.NextInt64(0, 1L << 32);
            byte first = (byte)random.Next(256);
            Assert.Equal(StripChecksum.Format1Crc.Naive(state, first, blockSize), crc.Block(state, first));
        }
        var block = new byte[blockSize];
        random.NextBytes(block);
        Assert.Equal(PartcloneEncoder.Format1Crc(0xFFFFFFFF, block), crc.Block(0xFFFFFFFF, block[0]));
    }
}
