using BlockSwarm.Devices;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Ezio.Tests;

/// <summary>Block-image torrents for the daemon: a random "disk" whose used runs are the torrent's 32-hex-named files.</summary>
internal static class TestImages
{
    /// <summary>
    /// An image of <paramref name="size"/> random bytes, used in three runs (one not block aligned) with gaps between
    /// them, and its torrent announcing to <paramref name="tracker"/>. Returns the image's path and the torrent.
    /// </summary>
    public static (string Image, Torrent Torrent) Make(TempDirectory dir, string name, int seed, long size, int pieceLength, Uri? tracker)
    {
        var img = dir.File($"{name}.img");
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(img, data);
        long quarter = size / 4;
        var map = BlockMap.FromExtents(size, 1, [new Extent(0, quarter), new Extent(quarter + (1 << 20), quarter + 12345), new Extent(3 * quarter, quarter - (1 << 20))]);
        using var dev = DeviceFile.OpenRead(img);
        var t = TorrentCreator.Create(dev, map, new CreateOptions { Name = name, PieceLength = pieceLength, Trackers = tracker is null ? [] : [tracker.ToString()] });
        return (img, t);
    }

    /// <summary>An empty (sparse) image file as large as <paramref name="source"/>: a raw-mode target must exist, as a disk does.</summary>
    public static string BlankLike(TempDirectory dir, string source, string name)
    {
        var target = dir.File(name);
        using (var f = File.Create(target)) f.SetLength(new FileInfo(source).Length);
        return target;
    }

    /// <summary>Asserts the target holds the source's bytes at every one of the torrent's extents.</summary>
    public static void AssertExtentsEqual(Torrent t, string source, string target) =>
        Assert.Null(BlockImageLayout.Create(t).FirstDifference(source, target));
}
