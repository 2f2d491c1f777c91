using System.Net;
using BlockSwarm.Ezio.Api;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Tracker;
using Google.Protobuf;

namespace BlockSwarm.Ezio.Tests;

/// <summary><c>-F</c>: save paths are directories with the standard layout (SAVE_PATH/NAME/FILE), Clonezilla's btzone slices; and seeding mode's spot check.</summary>
public sealed class EzioFileModeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Writes each file of a block-image torrent (named by its 32-hex offset) out of the image under root/NAME/.</summary>
    private static void WriteSlices(Metainfo.Torrent t, string image, string root)
    {
        var data = File.ReadAllBytes(image);
        foreach (var f in t.Files)
        {
            Assert.True(BlockImageLayout.TryParseHexOffset(f.Path[^1], out long offset));
            var path = Path.Combine([root, t.Name, .. f.Path]);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, data.AsSpan((int)offset, (int)f.Length).ToArray());
        }
    }

    [Fact]
    public async Task File_mode_daemons_seed_from_and_fetch_into_directories()
    {
        using var dir = new TempDirectory("ezio-files");
        await using var tracker = new StandaloneTrackerHost(new TrackerOptions { AnnouncesPerSecondPerIp = 0 });
        await tracker.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, Ct);
        var (img, t) = TestImages.Make(dir, "sda3", 71, 12 << 20, 128 << 10, tracker.AnnounceUri);
        var seedDir = Directory.CreateDirectory(dir.File("slices")).FullName;
        var leechDir = Directory.CreateDirectory(dir.File("received")).FullName;
        WriteSlices(t, img, seedDir);
        var bytes = ByteString.CopyFrom(t.Raw.Span);
        string hash = t.InfoHash.ToHex();

        await using var seed = await DaemonHarness.StartAsync("127.0.0.85", dir, o => o with { FileMode = true });
        await using var leech = await DaemonHarness.StartAsync("127.0.0.86", dir, o => o with { FileMode = true });
        await seed.Client.AddTorrentAsync(new AddRequest { Torrent = bytes, SavePath = seedDir, SeedingMode = true }, cancellationToken: Ct);
        await leech.Client.AddTorrentAsync(new AddRequest { Torrent = bytes, SavePath = leechDir }, cancellationToken: Ct);
        Api.Torrent s = null!;
        await Eventually.UntilAsync(async () => (s = await leech.StatusAsync(hash)).IsFinished, TimeSpan.FromSeconds(60), "the -F leech to finish",
            () => s?.ToString() ?? "", TimeSpan.FromMilliseconds(200), Ct);
        Assert.Equal((long)TorrentState.Seeding, s.State);
        await leech.Client.ShutdownAsync(new Empty(), cancellationToken: Ct);

        foreach (var f in t.Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine([seedDir, t.Name, .. f.Path])), File.ReadAllBytes(Path.Combine([leechDir, t.Name, .. f.Path])));
        // The checkpoint sits in the save path, beside (not inside) the torrent's directory.
        Assert.True(File.Exists(Path.Combine(leechDir, $".{hash}.blockswarm-resume")));
    }

    [Fact]
    public async Task A_seeding_mode_source_that_fails_its_spot_check_is_hashed_and_only_its_good_pieces_are_seeded()
    {
        using var dir = new TempDirectory("ezio-spot");
        var (img, t) = TestImages.Make(dir, "sda4", 72, 8 << 20, 64 << 10, tracker: null);
        // The first piece (always spot-checked) no longer matches the torrent: another image, or one changed since.
        using (var f = new FileStream(img, FileMode.Open)) f.Write(new byte[100]);
        await using var d = await DaemonHarness.StartAsync("127.0.0.87", dir);
        await d.Client.AddTorrentAsync(new AddRequest { Torrent = ByteString.CopyFrom(t.Raw.Span), SavePath = img, SeedingMode = true }, cancellationToken: Ct);
        string hash = t.InfoHash.ToHex();
        Api.Torrent s = null!;
        await Eventually.UntilAsync(async () => (s = await d.StatusAsync(hash)).State != (long)TorrentState.CheckingFiles, TimeSpan.FromSeconds(20),
            "the check to end", ct: Ct);
        Assert.Equal(t.PieceCount - 1, s.NumPieces);
        Assert.Equal((long)TorrentState.Downloading, s.State);
        Assert.False(s.IsFinished);
        var warning = Assert.Single(d.Logs.Named("SpotCheckFailed"));
        Assert.Contains("piece 0", warning.Message, StringComparison.Ordinal);
    }
}
