using System.Security.Cryptography;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Metainfo.Tests;

public sealed class SequentialPieceHasherTests
{
    [Theory]
    [InlineData(10 << 20, 1 << 20, 1)]
    [InlineData((10 << 20) + 12345, 256 << 10, 4)]
    [InlineData(1000, 16 << 10, 2)]
    public void Hashes_every_piece_of_a_stream_read_in_short_pieces(int length, int pieceLength, int parallelism)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var rnd = new Random(7);
        int at = 0;
        var order = new List<int>();
        var hashes = SequentialPieceHasher.Hash(length, pieceLength, dest =>
        {
            int n = Math.Min(dest.Length, Math.Min(length - at, rnd.Next(1, 300_000)));
            data.AsSpan(at, n).CopyTo(dest.Span);
            at += n;
            return n;
        }, parallelism, onPiece: order.Add, cancellationToken: TestContext.Current.CancellationToken);
        int pieces = (length + pieceLength - 1) / pieceLength;
        Assert.Equal(Enumerable.Range(0, pieces), order);
        for (int p = 0; p < pieces; p++)
        {
            int len = Math.Min(pieceLength, length - p * pieceLength);
            Assert.Equal(SHA1.HashData(data.AsSpan(p * pieceLength, len)), hashes.AsSpan(p * 20, 20).ToArray());
        }
    }

    [Fact]
    public void A_stream_that_ends_early_names_the_byte_and_the_piece()
    {
        int calls = 0;
        var ex = Assert.Throws<EndOfStreamException>(() => SequentialPieceHasher.Hash(3 << 20, 1 << 20, dest => calls++ < 1 ? dest.Length : 0));
        Assert.Contains("byte 1048576 of 3145728 (in piece 1)", ex.Message, StringComparison.Ordinal);
    }
}
