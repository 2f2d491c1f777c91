using BlockSwarm.Bencode;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Metainfo.Tests;

public sealed class TorrentParseTests
{
    private static byte[] TorrentWithCreationDate(long date)
    {
        var info = new TorrentBuilder("x", Torrent.MinPieceLength) { PieceHashes = new byte[20] }
            .AddFile(["00000000000000000000000000000000"], 100)
            .BuildInfo();
        var root = new BDictionary { ["creation date"] = new BInteger(date), ["info"] = info };
        return BencodeEncoder.Encode(root);
    }

    [Theory]
    [InlineData(30001795617006L)] // found by the torrent fuzzer: FromUnixTimeSeconds threw ArgumentOutOfRangeException
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(253402300800L)]
    public void CreationDateOutsideDateTimeOffsetRangeIsNull(long date)
    {
        var torrent = Torrent.Parse(TorrentWithCreationDate(date));
        Assert.Null(torrent.CreationDate);
    }

    [Fact]
    public void CreationDateInRangeIsRead()
    {
        var torrent = Torrent.Parse(TorrentWithCreationDate(1_700_000_000));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), torrent.CreationDate);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(253402300799), Torrent.Parse(TorrentWithCreationDate(253402300799)).CreationDate);
    }
}
