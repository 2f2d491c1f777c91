using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Bencode;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Metainfo.Tests;

public sealed class TorrentTests
{
    internal static byte[] Build(Action<BDictionary>? tweakInfo = null, Action<BDictionary>? tweakRoot = null, long[]? lengths = null, int pieceLength = 16384)
    {
        lengths ??= [20000, 5000];
        long total = lengths.Sum();
        int pieces = (int)((total + pieceLength - 1) / pieceLength);
        var info = new BDictionary
        {
            ["name"] = new BString("disk"),
            ["piece length"] = new BInteger(pieceLength),
            ["pieces"] = new BString(new byte[pieces * 20]),
            ["files"] = new BList(lengths.Select((l, i) => (BValue)new BDictionary
            {
                ["length"] = new BInteger(l),
                ["path"] = new BList([new BString(BlockImageLayout.FormatHexOffset(i * 100000L))]),
            })),
        };
        tweakInfo?.Invoke(info);
        var root = new BDictionary { ["announce"] = new BString("http://t/announce"), ["info"] = info };
        tweakRoot?.Invoke(root);
        return BencodeEncoder.Encode(root);
    }

    [Fact]
    public void Parses_multi_file_and_computes_info_hash_over_raw_bytes()
    {
        var bytes = Build();
        var t = Torrent.Parse(bytes);
        Assert.Equal("disk", t.Name);
        Assert.Equal(25000, t.TotalLength);
        Assert.Equal(2, t.PieceCount);
        Assert.Equal(16384, t.GetPieceLength(0));
        Assert.Equal(25000 - 16384, t.GetPieceLength(1));
        Assert.Equal(20000, t.Files[1].StreamOffset);
        Assert.Single(t.TrackerTiers);
        // The info-hash is the SHA-1 of exactly the bytes between "4:info" and the root's closing 'e'.
        int start = Encoding.ASCII.GetString(bytes).IndexOf("4:info", StringComparison.Ordinal) + 6;
        var expected = SHA1.HashData(bytes.AsSpan(start, bytes.Length - start - 1));
        Assert.Equal(Convert.ToHexStringLower(expected), t.InfoHash.ToHex());
    }

    [Fact]
    public void Info_hash_uses_raw_bytes_for_lenient_foreign_encodings()
    {
        // A torrent whose info has keys out of order is rejected by the strict decoder with a clear message.
        var raw = Encoding.ASCII.GetBytes("d4:infod4:name1:x12:piece lengthi16384e6:pieces20:" + new string('a', 20) + "6:lengthi5eee");
        var ex = Assert.Throws<TorrentException>(() => Torrent.Parse(raw));
        Assert.Contains("out of order", ex.Message);
    }

    [Theory]
    [InlineData(1000, "power of two")]
    [InlineData(3 * 16384, "power of two")]
    [InlineData(1 << 29, "power of two")]
    public void Rejects_bad_piece_length(int pl, string message)
    {
        var ex = Assert.Throws<TorrentException>(() => Torrent.Parse(Build(i => i["piece length"] = new BInteger(pl))));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Rejects_piece_count_mismatch()
    {
        var ex = Assert.Throws<TorrentException>(() => Torrent.Parse(Build(i => i["pieces"] = new BString(new byte[60]))));
        Assert.Contains("holds 3 hashes", ex.Message);
        ex = Assert.Throws<TorrentException>(() => Torrent.Parse(Build(i => i["pieces"] = new BString(new byte[41]))));
        Assert.Contains("not a multiple of 20", ex.Message);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Rejects_unsafe_paths(string component)
    {
        var ex = Assert.Throws<TorrentException>(() => Torrent.Parse(Build(i =>
            ((BDictionary)((BList)i["files"])[0])["path"] = new BList([new BString(component)]))));
        Assert.Contains("not a safe file name", ex.Message);
    }

    [Fact]
    public void Rejects_missing_info_and_negative_length_and_garbage()
    {
        Assert.Contains("missing required key 'info'", Assert.Throws<TorrentException>(() => Torrent.Parse(Encoding.ASCII.GetBytes("d1:ai1ee"))).Message);
        Assert.Contains("negative", Assert.Throws<TorrentException>(() => Torrent.Parse(Build(lengths: [-5, 30000]))).Message);
        Assert.Contains("not a valid torrent", Assert.Throws<TorrentException>(() => Torrent.Parse(Encoding.ASCII.GetBytes("garbage"))).Message);
        Assert.Contains("both 'length' and 'files'", Assert.Throws<TorrentException>(() => Torrent.Parse(Build(i => i["length"] = new BInteger(5)))).Message);
    }

    [Fact]
    public void Announce_list_tiers_take_precedence()
    {
        var t = Torrent.Parse(Build(tweakRoot: r => r["announce-list"] = new BList([
            new BList([new BString("http://a/announce"), new BString("http://b/announce")]),
            new BList([new BString("http://c/announce")]),
        ])));
        Assert.Equal(2, t.TrackerTiers.Length);
        Assert.Equal(["http://a/announce", "http://b/announce"], t.TrackerTiers[0]);
    }

    [Fact]
    public void Builder_round_trips()
    {
        var b = new TorrentBuilder("sda1", 16384) { PieceHashes = new byte[40], CreatedBy = "test", CreationDate = DateTimeOffset.FromUnixTimeSeconds(1700000000) };
        b.AddFile([BlockImageLayout.FormatHexOffset(0)], 16384).AddFile([BlockImageLayout.FormatHexOffset(1 << 20)], 100);
        b.Trackers.Add(["http://x/announce"]);
        b.Trackers.Add(["http://y/announce"]);
        var t = b.Build();
        Assert.Equal(2, t.PieceCount);
        Assert.Equal(2, t.TrackerTiers.Length);
        Assert.Equal("test", t.CreatedBy);
        Assert.Equal(1700000000, t.CreationDate!.Value.ToUnixTimeSeconds());
        // Only what libtorrent writes in info.
        Assert.Equal(["files", "name", "piece length", "pieces"], t.Info.Keys.Select(k => k.Text));
    }
}
