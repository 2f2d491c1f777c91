using System.Net;
using BlockSwarm.Clonezilla.Serving;
using BlockSwarm.Devices;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Serving;

/// <summary>
/// The serving chain without a real image: a virtual disk (boot areas + a partition decoded from a forward-only
/// stream), its torrent hashed in one sequential pass, a seed on <see cref="SequentialImageStorage"/> (which reveals
/// pieces in stream order), and leechers writing image files. Every copy is bit-exact over the written extents, and
/// the stream is decoded about once.
/// </summary>
public sealed class SequentialServingTests
{
    [Fact]
    public async Task Leechers_fetch_a_virtual_disk_bit_exact_while_its_stream_is_decoded_about_once()
    {
        using var dir = new TempDirectory("virtual-serve");
        var ct = TestContext.Current.CancellationToken;
        var (disk, source, written, decoded) = VirtualDiskTests.Make(window: 2 << 20);

        // One sequential pass over the extents in disk order: the torrent's piece hashes.
        var stream = new ExtentStream([.. written]);
        long at = 0;
        var hashes = SequentialPieceHasher.Hash(stream.Length, 64 << 10, dest =>
        {
            var slices = new List<DeviceSlice>();
            int n = (int)Math.Min(dest.Length, stream.Length - at);
            stream.MapRange(at, n, slices);
            foreach (var s in slices) disk.Read(s.DeviceOffset, [dest.Slice(s.BufferOffset, s.Length)]);
            at += n;
            return n;
        }, cancellationToken: ct);
        var torrent = TorrentCreator.FromHashes(written, hashes, 64 << 10, new CreateOptions { Name = "sda" });
        long decodedByHashing = decoded.BytesDecoded;

        await using var storage = new SequentialImageStorage(disk, torrent);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        await using var seeder = new TorrentEngine(new EngineOptions { Listen = [new IPEndPoint(IPAddress.Parse("127.0.0.91"), 0)], Discovery = new DiscoveryOptions { Trackers = false } });
        seeder.Start();
        seeder.Add(torrent, storage, storage.GetDurablePieces(), new TorrentOptions { RevealWindow = 8 });

        var targets = new List<MappedPieceStorage>();
        var engines = new List<TorrentEngine>();
        try
        {
            var sessions = new List<TorrentSession>();
            for (int i = 0; i < 2; i++)
            {
                var target = DeviceStorage.CreateImage(dir.File($"t{i}.img"), torrent, source.Length);
                targets.Add(target);
                var e = new TorrentEngine(new EngineOptions
                {
                    Listen = [new IPEndPoint(IPAddress.Parse($"127.0.0.{92 + i}"), 0)],
                    LocalAddress = IPAddress.Parse($"127.0.0.{92 + i}"),
                    Discovery = new DiscoveryOptions { Trackers = false },
                });
                e.Start();
                engines.Add(e);
                sessions.Add(e.Add(torrent, target, new Bitfield(torrent.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] }));
            }
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct)));
            await all;
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var t in targets) await t.DisposeAsync();
        }
        for (int i = 0; i < 2; i++)
        {
            var copy = File.ReadAllBytes(dir.File($"t{i}.img"));
            foreach (var e in written)
                Assert.True(copy.AsSpan((int)e.Offset, (int)e.Length).SequenceEqual(source.AsSpan((int)e.Offset, (int)e.Length)), $"copy {i} differs in {e}");
        }
        // Serving decoded the partition's stream about once more (a restart or two for a peer that starved is allowed).
        long servedDecode = decoded.BytesDecoded - decodedByHashing;
        Assert.True(servedDecode <= 3 * decoded.Length, $"serving decoded {servedDecode} bytes of a {decoded.Length}-byte stream ({decoded.Restarts} restarts)");
    }
}
