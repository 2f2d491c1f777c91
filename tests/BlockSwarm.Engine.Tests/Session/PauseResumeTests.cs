using System.Net;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>Pause and resume (the EZIO daemon's PauseTorrent/ResumeTorrent): no peers and no progress while paused, then on to bit-exact.</summary>
public sealed class PauseResumeTests
{
    [Fact]
    public async Task A_paused_download_has_no_peers_refuses_dials_keeps_its_pieces_and_completes_after_resume()
    {
        using var dir = new TempDirectory("pause");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 41, pieceLength: 128 << 10);
        var ct = TestContext.Current.CancellationToken;
        var logs = new RecordingLoggerFactory();

        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        // 3 MB/s: the 13 MiB of extents take seconds, long enough to pause in the middle.
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.71"), seed: 1, uploadLimit: 3_000_000);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());

        var target = dir.File("target.img");
        await using var leechStorage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
        await using var leechEngine = TestEngines.Start(IPAddress.Parse("127.0.0.72"), seed: 2, logs: logs);
        var leecher = leechEngine.Add(t, leechStorage, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] });

        await Eventually.UntilAsync(() => leecher.GetStats().PiecesHave >= 10, TimeSpan.FromSeconds(30), "the first pieces", ct: ct);
        await leecher.PauseAsync();
        Assert.True(leecher.IsPaused);
        Assert.Equal(0, leecher.GetStats().Peers);
        Assert.Single(logs.Named("Paused"));

        // The seeder dials the paused leecher: refused after the handshake, so it stays without peers.
        seeder.AddPeer(leechEngine.LocalEndPoint!);
        await Eventually.UntilAsync(() => logs.Named("PeerRefused").Any(e => e.Message.Contains("the torrent is paused", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), "the seeder's dial to be refused", ct: ct);
        // Pieces already queued for hashing may still land; after that nothing moves.
        await Task.Delay(300, ct);
        int have = leecher.GetStats().PiecesHave;
        await Task.Delay(1500, ct);
        var paused = leecher.GetStats();
        Assert.Equal(have, paused.PiecesHave);
        Assert.Equal(0, paused.Peers);
        Assert.False(leecher.Completion.IsCompleted);
        Assert.True(paused.PiecesHave < t.PieceCount, "the download finished before it could be paused");

        await leecher.PauseAsync(); // a second pause changes nothing
        leecher.Resume();
        Assert.False(leecher.IsPaused);
        Assert.Single(logs.Named("Resumed"));
        var done = await Task.WhenAny(leecher.Completion, Task.Delay(TimeSpan.FromSeconds(60), ct));
        Assert.Same(leecher.Completion, done);
        await leecher.Completion;
        // Nothing was fetched twice: the pieces verified before the pause stayed.
        Assert.True(leecher.GetStats().PayloadDownloaded < t.TotalLength + 4 * t.PieceLength, $"downloaded {leecher.GetStats().PayloadDownloaded} of {t.TotalLength}");
        await leechEngine.DisposeAsync();
        LoopbackSwarmTests.AssertExtentsEqual(t, img, target);
    }
}
