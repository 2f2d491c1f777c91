using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Clonezilla.Tests.Partclone;
using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.BitTorrent;

/// <summary>
/// A small partclone image laid out to hit the cuts: runs crossing the 16 MiB marks of used data, a run ending on no
/// mark, 41.8 MiB used (not a multiple of 16 MiB: a short last piece). Our torrent against one built here by hand,
/// and against partclone's own slices (<c>-r -T</c>) and Clonezilla's gen-torrent-from-ptcl where they are installed.
/// </summary>
public sealed class ClonezillaBtSyntheticTests
{
    private const int BlockSize = 4096;
    private const long TotalBlocks = 12_000;

    /// <summary>Used runs in blocks; 16 MiB is 4096 blocks, so the marks fall 103 blocks into the third run and 3999 into the fourth.</summary>
    private static readonly (long Start, long Count)[] s_runs = [(0, 3), (10, 3990), (4100, 200), (5000, 6000), (11_500, 1)];

    /// <summary>The slice files partclone writes, in blocks: worked out by hand from the runs above.</summary>
    private static readonly (long Start, long Count)[] s_slices = [(0, 3), (10, 3990), (4100, 103), (4203, 97), (5000, 3999), (8999, 2001), (11_500, 1)];

    [Fact]
    public void The_info_dictionary_is_the_one_built_by_hand()
    {
        using var dir = new TempDirectory("cz-bt-synth");
        var (image, device) = Write(dir);
        var ours = ClonezillaBtTorrents.Create(image, "sda1", new ClonezillaBtOptions { HashThreads = 2 });

        Assert.Equal((BlockSize, 10_194L * BlockSize, s_slices.Length), (ours.BlockSize, ours.UsedBytes, ours.Slices));
        Assert.Equal(Convert.ToHexStringLower(ExpectedInfo(device, "sda1")), Convert.ToHexStringLower(ours.Torrent.RawInfo.Span));
        Assert.Equal(3, ours.Torrent.PieceCount);
        Assert.Equal("sda1.torrent", ours.TorrentFileName);
        Assert.Equal("Clonezilla", ours.Torrent.CreatedBy);
    }

    [Fact]
    [Requires("partclone.extfs")]
    public void Partclone_cuts_the_same_slices_and_hashes_the_same_pieces()
    {
        using var dir = new TempDirectory("cz-bt-synth-pc");
        var (image, _) = Write(dir);
        var info = PartcloneTorrentInfo.Load(ClonezillaBtReference.PartcloneSlices("cat", [image], "extfs", dir.File("sda1")));
        var ours = ClonezillaBtTorrents.Create(image, "sda1", new ClonezillaBtOptions());
        Assert.Equal(info.Map.Extents.ToArray(), ours.Torrent.Files.Select(f => new Extent(long.Parse(f.Path[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), f.Length)).ToArray());
        Assert.Equal(info.PieceHashes.Select(Convert.ToHexStringLower), Enumerable.Range(0, ours.Torrent.PieceCount).Select(i => Convert.ToHexStringLower(ours.Torrent.GetPieceHash(i))));
        // The slice files partclone wrote are the files of our torrent, byte for byte.
        var stream = new MemoryStream();
        foreach (var f in ours.Torrent.Files) stream.Write(File.ReadAllBytes(Path.Combine(dir.File("sda1"), f.Path[0])));
        Assert.Equal(SHA1.HashData(stream.ToArray().AsSpan(0, 16 << 20)), ours.Torrent.GetPieceHash(0).ToArray());
    }

    [Fact]
    [Requires("partclone.extfs", "gen-torrent-from-ptcl", Need.PythonLibtorrent)]
    public void Clonezillas_converter_makes_the_same_info_dictionary()
    {
        using var dir = new TempDirectory("cz-bt-synth-gen");
        var (image, _) = Write(dir, name: "nvme0n1p7");
        var info = ClonezillaBtReference.PartcloneSlices("cat", [image], "extfs", dir.File("nvme0n1p7"));
        File.Move(info, dir.File("nvme0n1p7.torrent.info"));
        var theirs = Torrent.Parse(ClonezillaBtReference.GenerateTorrent(dir.File("nvme0n1p7.torrent.info"), "nvme0n1p7", dir.File("theirs.torrent")));
        var ours = ClonezillaBtTorrents.Create(image, "nvme0n1p7", new ClonezillaBtOptions { Trackers = [ClonezillaBtReference.Tracker], CreationDate = theirs.CreationDate });
        Assert.Equal(Convert.ToHexStringLower(theirs.RawInfo.Span), Convert.ToHexStringLower(ours.Torrent.RawInfo.Span));
        Assert.Equal(theirs.InfoHash, ours.Torrent.InfoHash);
        Assert.Equal(theirs.Raw.ToArray(), ours.Torrent.Raw.ToArray());
    }

    [Fact]
    public void A_corrupt_block_is_reported_with_the_image_and_no_torrent_is_made()
    {
        using var dir = new TempDirectory("cz-bt-synth-bad");
        var (image, _) = Write(dir);
        using (var f = new FileStream(image, FileMode.Open))
        {
            f.Position = f.Length - 100_000;
            f.WriteByte((byte)(f.ReadByte() ^ 0xFF));
        }
        var ex = Assert.Throws<ClonezillaFormatException>(() => ClonezillaBtTorrents.Create(image, "sda1", new ClonezillaBtOptions()));
        Assert.Contains(Path.GetFileName(image), ex.Message, StringComparison.Ordinal);
        Assert.Contains("checksum mismatch", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Writes the partition (random blocks) and its CRC-32 image (64 blocks a strip: strips straddle slices).</summary>
    private static (string Image, string Device) Write(TempDirectory dir, string name = "sda1")
    {
        var bitmap = new byte[(TotalBlocks + 7) / 8];
        foreach (var (start, count) in s_runs)
            for (long b = start; b < start + count; b++) bitmap[b >> 3] |= (byte)(1 << (int)(b & 7));
        var device = dir.File(name + ".dev");
        var data = new byte[TotalBlocks * BlockSize];
        new Random(14).NextBytes(data);
        File.WriteAllBytes(device, data);
        var image = dir.File(name + ".ext4-ptcl-img.uncomp");
        PartcloneEncoder.WriteFormat2(image, SyntheticImage.FromBitmap(BlockSize, TotalBlocks, bitmap), device, PartcloneChecksumMode.Crc32, 64, reseed: true);
        return (image, device);
    }

    /// <summary>The info dictionary libtorrent writes for these slices, bencoded here by hand: files, name, piece length, pieces.</summary>
    private static byte[] ExpectedInfo(string device, string name)
    {
        var bytes = File.ReadAllBytes(device);
        var used = new MemoryStream();
        foreach (var (start, count) in s_slices) used.Write(bytes, (int)(start * BlockSize), (int)(count * BlockSize));
        var all = used.ToArray();
        var pieces = new MemoryStream();
        for (int at = 0; at < all.Length; at += 16 << 20) pieces.Write(SHA1.HashData(all.AsSpan(at, Math.Min(16 << 20, all.Length - at))));
        var info = new StringBuilder("d5:filesl");
        foreach (var (start, count) in s_slices)
            info.Append(CultureInfo.InvariantCulture, $"d6:lengthi{count * BlockSize}e4:pathl32:{(start * BlockSize).ToString("x32", CultureInfo.InvariantCulture)}ee");
        info.Append(CultureInfo.InvariantCulture, $"e4:name{name.Length}:{name}12:piece lengthi16777216e6:pieces{pieces.Length}:");
        return [.. Encoding.ASCII.GetBytes(info.ToString()), .. pieces.ToArray(), (byte)'e'];
    }
}
