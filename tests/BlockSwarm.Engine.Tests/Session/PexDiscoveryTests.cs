using System.Net;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Session;

public sealed class PexDiscoveryTests
{
    [Fact]
    public async Task Leechers_that_only_know_the_seeder_find_each_other_through_pex()
    {
        using var dir = new TempDirectory("pex");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 21);
        var ct = TestContext.Current.CancellationToken;
        await using var seedStorage = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        // A slow origin (256 KiB/s, 13 MiB each): nobody can finish within the wait, so meeting is the only way to 2 peers.
        await using var seedEngine = TestEngines.Start(IPAddress.Loopback, seed: 1, uploadLimit: 256 << 10);
        var seeder = seedEngine.Add(t, seedStorage, seedStorage.GetDurablePieces());
        var sessions = new List<TorrentSession>();
        var engines = new List<TorrentEngine>();
        var storages = new List<IPieceStorage>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var st = DeviceStorage.CreateImage(dir.File($"t{i}.img"), t, size: new FileInfo(img).Length);
                storages.Add(st);
                var engine = TestEngines.Start(IPAddress.Parse($"127.0.0.{41 + i}"), seed: 10 + i);
                engines.Add(engine);
                sessions.Add(engine.Add(t, st, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] }));
            }
            await Eventually.UntilAsync(() => sessions.All(s => s.GetStats().Peers >= 2), TimeSpan.FromSeconds(20),
                "PEX to introduce the leechers to each other", () => string.Join(", ", sessions.Select(s => $"{s.GetStats().Peers} peers")), ct: ct);
            Assert.All(sessions, s => Assert.False(s.IsComplete));
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var st in storages) await st.DisposeAsync();
        }
    }

    [Fact]
    public void Extension_handshake_round_trips_and_tolerates_unknown_keys()
    {
        var h = new ExtensionHandshake { Messages = new Dictionary<string, byte> { ["ut_pex"] = 1 }, ListenPort = 6881, Client = "x", RequestQueue = 500 };
        var back = ExtensionHandshake.Decode(h.Encode());
        Assert.Equal(1, back.IdOf("ut_pex"));
        Assert.Equal(0, back.IdOf("ut_metadata"));
        Assert.Equal(6881, back.ListenPort);
        // libtorrent-style handshake with extra keys and an out-of-range port.
        var lt = "d1:md11:ut_metadatai2e6:ut_pexi3ee1:pi70000e4:reqqi250e1:v14:libtorrent 2.0e"u8.ToArray();
        var parsed = ExtensionHandshake.Decode(lt);
        Assert.Equal(3, parsed.IdOf("ut_pex"));
        Assert.Null(parsed.ListenPort);
        Assert.Throws<BlockSwarm.Bencode.BencodeException>(() => ExtensionHandshake.Decode("li1ee"u8.ToArray()));
    }
}
