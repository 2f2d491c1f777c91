using System.Net;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Session;

public sealed class LoopbackSwarmTests(ITestOutputHelper output)
{
    /// <summary>A random "disk" with used extents, its torrent, and the bytes at those extents.</summary>
    internal static (string Image, Torrent Torrent) MakeImage(TempDirectory dir, int seed, long size = 24 << 20, int pieceLength = 256 << 10)
    {
        var img = dir.File("source.img");
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(img, data);
        // Used runs with gaps, including one that is not block aligned.
        var map = BlockMap.FromExtents(size, 1, [new Extent(0, 1 << 20), new Extent(3 << 20, (7 << 20) + 12345), new Extent(16 << 20, 5 << 20)]);
        using var dev = DeviceFile.OpenRead(img);
        var t = TorrentCreator.Create(dev, map, new CreateOptions { Name = "disk", PieceLength = pieceLength });
        return (img, t);
    }

    /// <summary>The image opened read-only as a seed, every piece trusted (no re-hash).</summary>
    internal static DeviceStorage OpenTrustedSeed(string image, Torrent t)
    {
        var storage = DeviceStorage.Open(image, t, writable: false);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        return storage;
    }

    internal static void AssertExtentsEqual(Torrent t, string source, string target) =>
        Assert.Null(BlockImageLayout.Create(t).FirstDifference(source, target));

    [Fact]
    public async Task Seeder_to_two_leechers_over_loopback_is_bit_exact_and_leechers_share()
    {
        using var dir = new TempDirectory("swarm");
        var (img, t) = MakeImage(dir, 11);
        var ct = TestContext.Current.CancellationToken;

        await using var seedStorage = OpenTrustedSeed(img, t);
        await using var seedEngine = TestEngines.Start(IPAddress.Loopback, seed: 1);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());

        var targets = new List<string>();
        var sessions = new List<TorrentSession>();
        var engines = new List<TorrentEngine>();
        var storages = new List<IPieceStorage>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var target = dir.File($"target{i}.img");
                targets.Add(target);
                var st = DeviceStorage.CreateImage(target, t, size: new FileInfo(img).Length);
                storages.Add(st);
                var engine = TestEngines.Start(IPAddress.Loopback, seed: 100 + i);
                engines.Add(engine);
                var s = engine.Add(t, st, new Bitfield(t.PieceCount), new TorrentOptions { ResumePath = target + ".resume", Peers = [seeder.LocalEndPoint!] });
                sessions.Add(s);
            }
            sessions[1].AddPeer(sessions[0].LocalEndPoint!);
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            var done = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct));
            Assert.True(done == all, "leechers did not finish in 60 s: " + string.Join("; ", sessions.Select(s => $"{s.GetStats().PiecesHave}/{t.PieceCount}")));
            await all;
            foreach (var s in sessions)
            {
                var st = s.GetStats();
                output.WriteLine($"leecher: {st.PiecesHave}/{st.PieceCount} pieces, down {st.PayloadDownloaded}, up {st.PayloadUploaded}, wire down {st.WireDownloaded}, failures {st.HashFailures}");
                Assert.True(st.Complete);
            }
            output.WriteLine($"seeder uploaded {seeder.GetStats().PayloadUploaded} bytes of {t.TotalLength}");
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var st in storages) await st.DisposeAsync();
        }
        foreach (var target in targets) AssertExtentsEqual(t, img, target);
        Assert.True(File.Exists(targets[0] + ".resume"));
    }
}
