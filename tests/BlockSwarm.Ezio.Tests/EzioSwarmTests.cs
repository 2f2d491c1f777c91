using System.Net;
using BlockSwarm.Ezio.Api;
using BlockSwarm.Testing;
using BlockSwarm.Tracker;
using Google.Protobuf;
using Grpc.Core;

namespace BlockSwarm.Ezio.Tests;

/// <summary>
/// Two daemons in this process, driven only through the gRPC API as Clonezilla's tools drive EZIO: a seed (seeding
/// mode) and a leech find each other through the torrent's tracker; the leech is polled, paused, resumed, and shut
/// down. Every status field is checked against what it means in libtorrent.
/// </summary>
public sealed class EzioSwarmTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_seed_and_a_leech_daemon_share_a_torrent_through_the_api_and_report_libtorrent_numbers()
    {
        using var dir = new TempDirectory("ezio-swarm");
        await using var tracker = new StandaloneTrackerHost(new TrackerOptions { AnnouncesPerSecondPerIp = 0 });
        await tracker.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, Ct);
        var (img, t) = TestImages.Make(dir, "sda1", 51, 48 << 20, 256 << 10, tracker.AnnounceUri);
        string hash = t.InfoHash.ToHex();
        var torrentBytes = ByteString.CopyFrom(t.Raw.Span);

        // The seed's slow start holds it at its first step (10 MiB/s) for the whole test: about 3.5 s for the 36 MiB,
        // time enough to watch the download and pause it.
        await using var seed = await DaemonHarness.StartAsync("127.0.0.81", dir, o => o with { SlowStart = true, SlowStartPeriod = TimeSpan.FromMinutes(5) });
        Assert.True((await seed.Client.AddTorrentAsync(new AddRequest { Torrent = torrentBytes, SavePath = img, SeedingMode = true }, cancellationToken: Ct)).Result);
        await Eventually.UntilAsync(async () => (await seed.StatusAsync(hash)).State == (long)TorrentState.Seeding, TimeSpan.FromSeconds(20), "the seed to seed", ct: Ct);
        var seeding = await seed.StatusAsync(hash);
        Assert.Equal((hash, "sda1", img), (seeding.Hash, seeding.Name, seeding.SavePath));
        Assert.True(seeding.IsFinished);
        Assert.Equal(1.0, seeding.Progress);
        Assert.Equal((t.TotalLength, t.TotalLength, t.PieceCount), (seeding.TotalDone, seeding.Total, seeding.NumPieces));
        Assert.Equal((0L, 0L, -1L, -1L), (seeding.TotalPayloadDownload, seeding.TotalPayloadUpload, seeding.LastUpload, seeding.LastDownload));
        Assert.False(seeding.IsPaused);

        await using var leech = await DaemonHarness.StartAsync("127.0.0.82", dir);
        var target = TestImages.BlankLike(dir, img, "target.img");
        Assert.True((await leech.Client.AddTorrentAsync(new AddRequest { Torrent = torrentBytes, SavePath = target, MaxUploads = 5, MaxConnections = 6 }, cancellationToken: Ct)).Result);
        var dup = await Assert.ThrowsAsync<RpcException>(async () => await leech.Client.AddTorrentAsync(new AddRequest { Torrent = torrentBytes, SavePath = target }, cancellationToken: Ct));
        Assert.Equal(StatusCode.AlreadyExists, dup.StatusCode);
        Assert.Contains(hash, dup.Status.Detail, StringComparison.Ordinal);

        // Downloading: part of the data, at a rate, from one peer; the numbers agree with each other.
        Api.Torrent s = null!;
        await Eventually.UntilAsync(async () =>
        {
            s = await leech.StatusAsync(hash);
            return s.State == (long)TorrentState.Downloading && s.NumPieces >= 8 && s.DownloadRate > 0;
        }, TimeSpan.FromSeconds(30), "the leech to download", () => s?.ToString() ?? "", TimeSpan.FromMilliseconds(100), Ct);
        Assert.False(s.IsFinished);
        Assert.InRange(s.Progress, 1e-9, 0.999);
        Assert.Equal((double)s.TotalDone / s.Total, s.Progress, 6);
        Assert.Equal(t.TotalLength, s.Total);
        Assert.InRange(s.TotalDone, (s.NumPieces - 1) * (long)t.PieceLength, s.NumPieces * (long)t.PieceLength);
        Assert.True(s.TotalPayloadDownload >= s.TotalDone - t.PieceLength, s.ToString());
        Assert.Equal(1, s.NumPeers);
        Assert.InRange(s.DownloadRate, 1, 12L << 20); // the seed sends at most 10 MiB/s
        Assert.InRange(s.LastDownload, 0, 2);
        Assert.Equal(-1, s.LastUpload);
        Assert.Equal((0L, 0L), (s.FinishedTime, s.SeedingTime));

        // Paused: no peers, no progress, no active time; still downloading.
        await leech.Client.PauseTorrentAsync(new PauseTorrentRequest { Hash = hash }, cancellationToken: Ct);
        var paused = await leech.StatusAsync(hash);
        Assert.True(paused.IsPaused);
        Assert.Equal(0, paused.NumPeers);
        Assert.Equal((long)TorrentState.Downloading, paused.State);
        await Task.Delay(300, Ct); // pieces already queued for hashing may still land
        paused = await leech.StatusAsync(hash);
        await Task.Delay(2000, Ct);
        var later = await leech.StatusAsync(hash);
        Assert.Equal(paused.TotalDone, later.TotalDone);
        Assert.Equal(paused.ActiveTime, later.ActiveTime);
        Assert.InRange(later.LastDownload, 2, 5);
        Assert.True(later.Progress < 1, "the download finished before it was paused");

        await leech.Client.ResumeTorrentAsync(new ResumeTorrentRequest { Hash = hash }, cancellationToken: Ct);
        Assert.False((await leech.StatusAsync(hash)).IsPaused);
        await Eventually.UntilAsync(async () => (s = await leech.StatusAsync(hash)).IsFinished, TimeSpan.FromSeconds(60), "the leech to finish",
            () => s.ToString(), TimeSpan.FromMilliseconds(200), Ct);

        // Finished: every piece verified and fsynced; seeding from now on.
        Assert.Equal((long)TorrentState.Seeding, s.State);
        Assert.Equal(1.0, s.Progress);
        Assert.Equal((t.TotalLength, t.TotalLength, t.PieceCount), (s.TotalDone, s.Total, s.NumPieces));
        Assert.InRange(s.TotalPayloadDownload, t.TotalLength, t.TotalLength + 8L * t.PieceLength);
        Assert.Equal(s.FinishedTime, s.SeedingTime);
        Assert.True(s.ActiveTime >= 3, s.ToString());
        await Task.Delay(1100, Ct);
        var finished = await leech.StatusAsync(hash);
        Assert.True(finished.SeedingTime >= 1, finished.ToString());
        var seedAfter = await seed.StatusAsync(hash);
        Assert.InRange(seedAfter.TotalPayloadUpload, t.TotalLength, t.TotalLength + 8L * t.PieceLength);
        Assert.InRange(seedAfter.LastUpload, 0, 5);

        // Logged like EZIO's -v: state changes, the pause, a status line.
        var changes = leech.Logs.Named("StateChanged").Select(e => e.Message).ToList();
        Assert.Contains(changes, m => m.Contains("checking_files -> downloading", StringComparison.Ordinal));
        Assert.Contains(changes, m => m.Contains("downloading -> seeding", StringComparison.Ordinal));
        Assert.NotEmpty(leech.Logs.Named("Paused"));
        Assert.NotEmpty(leech.Logs.Named("Status"));
        // The target, an image file in the temp directory, is written as deploy writes a disk: with O_DIRECT by default.
        Assert.Single(leech.Logs.Named(Requires.Why(Need.DirectIO) is null ? "WritingDirect" : "WritingBuffered"));
        Assert.Empty(seed.Logs.Named("WritingDirect")); // seeding opens read-only

        // Shutdown answers once every target is flushed and fsynced: the target is complete the moment it returns.
        await leech.Client.ShutdownAsync(new Empty(), cancellationToken: Ct);
        Assert.True(leech.Daemon.Stopped.IsCompletedSuccessfully);
        await leech.Server.ShutdownRequested.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        TestImages.AssertExtentsEqual(t, img, target);
        Assert.True(File.Exists(dir.File($".{hash}.blockswarm-resume")));
        var late = await Assert.ThrowsAsync<RpcException>(async () => await leech.Client.AddTorrentAsync(new AddRequest { Torrent = torrentBytes, SavePath = target }, cancellationToken: Ct));
        Assert.Equal(StatusCode.Unavailable, late.StatusCode);
    }
}
