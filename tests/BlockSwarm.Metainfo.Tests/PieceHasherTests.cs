using System.Security.Cryptography;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Metainfo.Tests;

public sealed class PieceHasherTests
{
    [Fact]
    public void Parallel_hashes_equal_a_sequential_model_and_bad_pieces_are_found()
    {
        using var dir = new TempDirectory("hasher");
        var path = dir.File("img");
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(path, data);
        Extent[] extents = [new(0, 100_000), new(200_000, 1_000_000), new(1_500_000, 1_200_001)];
        var stream = new ExtentStream([.. extents]);
        var concat = extents.SelectMany(e => data.Skip((int)e.Offset).Take((int)e.Length)).ToArray();
        using var dev = DeviceFile.OpenRead(path);
        foreach (int pl in new[] { 16384, 65536, 1 << 20 })
        {
            var hasher = new PieceHasher(dev, stream, pl) { Parallelism = 3 };
            long seen = 0;
            var hashes = hasher.HashAll(n => Interlocked.Add(ref seen, n));
            Assert.Equal(stream.Length, seen);
            for (int p = 0; p < hasher.PieceCount; p++)
            {
                int len = (int)Math.Min(pl, concat.Length - (long)p * pl);
                Assert.Equal(SHA1.HashData(concat.AsSpan(p * pl, len)), hashes.AsSpan(p * 20, 20).ToArray());
            }
            var expected = (byte[])hashes.Clone();
            expected[20 * 1] ^= 1;
            expected[20 * (hasher.PieceCount - 1)] ^= 1;
            Assert.Equal([1, hasher.PieceCount - 1], hasher.FindBadPieces(expected));
        }
    }

    [Fact]
    public void Short_source_is_an_error_not_a_silent_hash()
    {
        using var dir = new TempDirectory("hasher");
        var path = dir.File("img");
        File.WriteAllBytes(path, new byte[1000]);
        using var dev = DeviceFile.OpenRead(path);
        var hasher = new PieceHasher(dev, new ExtentStream([new Extent(500, 1000)]), 16384);
        var ex = Assert.Throws<AggregateException>(() => hasher.HashAll());
        Assert.IsType<EndOfStreamException>(ex.InnerExceptions[0]);
        Assert.Contains("short read", ex.InnerExceptions[0].Message);
    }
}
