using System.Diagnostics;
using System.Globalization;
using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.BitTorrent;

/// <summary>
/// Our per-partition torrents of image directories Clonezilla made, against the torrents Clonezilla's BitTorrent mode
/// makes of them (ocs-gen-bt-slices, then gen-torrent-from-ptcl as ocs-btsrv runs it): ext4, NTFS, FAT32 and FAT16,
/// zstd and gzip, split images.
/// </summary>
[Requires(Need.Root, Need.LoopDevice, "ocs-sr", "partclone.extfs", "parted", "pigz", "zstd", "mkfs.ntfs", "ntfs-3g", "mkfs.vfat", "mkswap")]
[Requires("unshare", "ocs-gen-bt-slices", "gen-torrent-from-ptcl", Need.PythonLibtorrent)]
public sealed class ClonezillaBtFixtureTests
{
    public static TheoryData<ClonezillaFixtureKind> Kinds => [ClonezillaFixtureKind.GptZstd, ClonezillaFixtureKind.GptGzip, ClonezillaFixtureKind.MbrGzip];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_partitions_info_dictionary_is_clonezillas(ClonezillaFixtureKind kind)
    {
        var image = ClonezillaFixture.Get(kind);
        var reference = ClonezillaBtReference.ForFixture(image);
        TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
            $"{kind}: Clonezilla took {reference.SlicesSeconds:F2} s for ocs-gen-bt-slices and {reference.TorrentsSeconds:F2} s for gen-torrent-from-ptcl"));
        var partitions = ClonezillaBtImage.List(image.ImageDirectory);
        Assert.Equal(File.ReadAllText(Path.Combine(image.ImageDirectory, "parts")).Split((char[])[' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries),
            partitions.Select(p => p.Partition));
        Assert.Equal(reference.Torrents.Keys.Order(StringComparer.Ordinal),
            partitions.Where(p => p.Skipped is null).Select(p => p.TorrentName).Order(StringComparer.Ordinal));
        foreach (var p in partitions)
        {
            if (p.Skipped is not null)
            {
                // Clonezilla's image route makes no slice of it either: its torrent.info lists no file.
                Assert.Equal(ClonezillaFixtureKind.MbrGzip, kind);
                Assert.Contains("dd image", p.Skipped, StringComparison.Ordinal);
                Assert.DoesNotContain("offset:", File.ReadAllText(reference.TorrentInfos[p.TorrentName]), StringComparison.Ordinal);
                continue;
            }
            var theirs = Torrent.Load(reference.Torrents[p.TorrentName]);
            var sw = Stopwatch.StartNew();
            var ours = ClonezillaBtTorrents.Create(p, new ClonezillaBtOptions
            {
                Trackers = [ClonezillaBtReference.Tracker],
                CreationDate = theirs.CreationDate,
            });
            var info = PartcloneTorrentInfo.Load(reference.TorrentInfos[p.TorrentName]);
            TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
                $"{p.Partition} ({p.Image!.FileSystem}, {p.Image.Compression}): {ours.UsedBytes} bytes in {ours.Slices} slices, info-hash {ours.Torrent.InfoHash.ToHex()} in {sw.Elapsed.TotalSeconds:F3} s"));
            Assert.Equal(info.BlockSize, ours.BlockSize);
            Assert.Equal(info.Map.Extents.Length, ours.Slices);
            Assert.Equal(Convert.ToHexStringLower(theirs.RawInfo.Span), Convert.ToHexStringLower(ours.Torrent.RawInfo.Span));
            Assert.Equal(theirs.InfoHash, ours.Torrent.InfoHash);
            // With ocs-btsrv's tracker and creator and the same creation date, the whole file is Clonezilla's.
            Assert.Equal(theirs.Raw.ToArray(), ours.Torrent.Raw.ToArray());
            Assert.Equal(p.TorrentName + ".torrent", ours.TorrentFileName);
        }
    }
}
