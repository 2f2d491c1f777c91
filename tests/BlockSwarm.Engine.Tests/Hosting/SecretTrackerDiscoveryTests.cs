using System.Net;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using BlockSwarm.Tracker;
using BlockSwarm.Tracker.Client;
using static BlockSwarm.Engine.Tests.Session.LoopbackSwarmTests;

namespace BlockSwarm.Engine.Tests.Hosting;

/// <summary>
/// Engines with the swarm secret find each other through a tracker that checks it (each announce carries its proof);
/// an engine without it is refused by the tracker, told why, and never listed to anyone (issue 18).
/// </summary>
public sealed class SecretTrackerDiscoveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TorrentEngine Start(string address, SwarmSecret? secret, RecordingLoggerFactory? log = null)
    {
        var ip = IPAddress.Parse(address);
        var engine = new TorrentEngine(new EngineOptions
        {
            Listen = [new IPEndPoint(ip, 0)],
            LocalAddress = ip,
            SwarmSecret = secret,
            Discovery = new DiscoveryOptions { Pex = false },
            LoggerFactory = log ?? new RecordingLoggerFactory(),
        });
        engine.Start();
        return engine;
    }

    [Fact]
    public async Task Engines_with_the_secret_find_each_other_through_the_tracker_and_an_outsider_is_listed_to_no_one()
    {
        var secret = SwarmSecret.FromText("secret of the engine discovery test", "test");
        using var dir = new TempDirectory("secret-tracker");
        var (img, t) = MakeImage(dir, 23);
        var trackerLog = new RecordingLoggerFactory();
        await using var tracker = new StandaloneTrackerHost(new TrackerOptions { SwarmSecret = secret, AnnouncesPerSecondPerIp = 0, LoggerFactory = trackerLog });
        await tracker.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null, Ct);
        var viaTracker = new TorrentOptions { Trackers = [[tracker.AnnounceUri]], AnnounceToTrackers = true };

        await using var seedStorage = OpenTrustedSeed(img, t);
        await using var seedEngine = Start("127.0.0.171", secret);
        seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces(), viaTracker);
        await Eventually.UntilAsync(() => tracker.Tracker.GetPeers(t.InfoHash).Count == 1, TimeSpan.FromSeconds(20), "the seeder's announce", ct: Ct);

        // The outsider has the torrent (it knows the info-hash) but not the secret.
        var outsiderLog = new RecordingLoggerFactory();
        await using var outsiderStorage = DeviceStorage.CreateImage(dir.File("outsider.img"), t, size: new FileInfo(img).Length);
        await using var outsiderEngine = Start("127.0.0.173", null, outsiderLog);
        var outsider = outsiderEngine.Add(t, outsiderStorage, new Bitfield(t.PieceCount), viaTracker);
        await Eventually.UntilAsync(() => outsiderLog.Named("AnnounceFailed").Count > 0, TimeSpan.FromSeconds(20), "the outsider's refused announce", ct: Ct);
        var failed = outsiderLog.Named("AnnounceFailed")[0].Message;
        Assert.Contains(AnnounceProof.Refusal, failed, StringComparison.Ordinal);
        Assert.Contains("no proof", failed, StringComparison.Ordinal);

        // The member with the secret gets the seeder from the tracker (no peer given) and completes.
        var target = dir.File("member.img");
        await using var memberStorage = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
        await using var memberEngine = Start("127.0.0.172", secret);
        var member = memberEngine.Add(t, memberStorage, new Bitfield(t.PieceCount), viaTracker);
        await member.Completion.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        AssertExtentsEqual(t, img, target);

        var listed = tracker.Tracker.GetPeers(t.InfoHash).Select(p => p.EndPoint.Address.ToString()).Order().ToList();
        Assert.Equal(["127.0.0.171", "127.0.0.172"], listed);
        var refusal = Assert.Single(trackerLog.Named("AnnounceUnproven"));
        Assert.StartsWith($"announce from 127.0.0.173 for {t.InfoHash.ToHex()} refused: no proof", refusal.Message, StringComparison.Ordinal);
        var stats = outsider.GetStats();
        Assert.Equal((0, 0L, 0), (stats.Peers, stats.PayloadDownloaded, stats.PiecesHave));
    }

    [Fact]
    public void Local_service_discovery_is_refused_with_a_swarm_secret()
    {
        var secret = SwarmSecret.FromText("secret of the engine discovery test", "test");
        var ex = Assert.Throws<ArgumentException>(() => new TorrentEngine(new EngineOptions { SwarmSecret = secret, Discovery = new DiscoveryOptions { Lsd = true } }));
        Assert.Contains("cannot be used with a swarm secret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("info-hash", ex.Message, StringComparison.Ordinal);
    }
}
