using System.Net;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Devices;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Jobs;

/// <summary>
/// A disk of an image directory Clonezilla made, served as one job straight out of its compressed images, against
/// Clonezilla's own <c>restoredisk</c> of the same directory: the job writes exactly the bytes restoredisk writes.
/// </summary>
[Requires(Need.Root, Need.LoopDevice, "ocs-sr", "partclone.extfs", "parted", "pigz", "zstd", "mkfs.ntfs", "ntfs-3g", "mkfs.vfat", "mkswap")]
public sealed class DiskJobTests
{
    public static TheoryData<ClonezillaFixtureKind> Kinds => [ClonezillaFixtureKind.GptZstd, ClonezillaFixtureKind.GptGzip, ClonezillaFixtureKind.MbrGzip];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_job_holds_exactly_what_restoredisk_writes(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var disk = Assert.Single(ClonezillaImage.Load(f.ImageDirectory).Disks);
        using var job = DiskJob.Open(disk, windowBytes: 4 << 20);
        var restored = File.ReadAllBytes(f.RestoredDisk);
        Assert.Equal(disk.Partitions.Count(p => p.Image?.FileSystem == "ntfs"), job.NtfsBackupBootSectors.Count);

        // Every byte of the job reads as restoredisk wrote it.
        var buffer = new byte[1 << 20];
        foreach (var e in job.Extents)
        {
            for (long at = e.Offset; at < e.End; at += buffer.Length)
            {
                int n = (int)Math.Min(buffer.Length, e.End - at);
                job.Device.Read(at, [buffer.AsMemory(0, n)]);
                if (job.NtfsBackupBootSectors.Contains(e))
                {
                    // restoredisk leaves it to ntfsfix -d; the job writes the boot sector's copy, as NTFS keeps it.
                    var partition = disk.Partitions.Single(p => p.Start <= at && at < p.End);
                    Assert.True(buffer.AsSpan(0, n).SequenceEqual(restored.AsSpan((int)partition.Start, n)), $"{kind}: {partition.Name}'s backup boot sector is not its boot sector");
                    continue;
                }
                Assert.True(buffer.AsSpan(0, n).SequenceEqual(restored.AsSpan((int)at, n)), $"{kind}: the job differs from restoredisk in [{at}, +{n}) of {e}");
            }
        }
        // And restoredisk wrote nothing the job leaves out: outside the extents the restored disk still holds the fill byte.
        long covered = 0;
        foreach (var gap in Gaps(job.Extents, restored.Length))
        {
            int i = restored.AsSpan((int)gap.Offset, (int)gap.Length).IndexOfAnyExcept(ClonezillaFixture.FillByte);
            Assert.True(i < 0, $"{kind}: restoredisk wrote byte {gap.Offset + i} which the job does not");
            covered += gap.Length;
        }
        Assert.Equal(restored.Length, covered + job.Bytes);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Two_clients_fetch_the_job_served_out_of_the_compressed_images_bit_exact(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("cz-job");
        var disk = ClonezillaImage.Load(f.ImageDirectory).Disks[0];
        using var job = DiskJob.Open(disk, windowBytes: 4 << 20);
        var torrent = job.CreateTorrent(new CreateOptions { Name = disk.Name, PieceLength = 64 << 10 }, cancellationToken: ct);
        Assert.Equal(job.Bytes, torrent.TotalLength);
        long decodedByHashing = job.Streams.Sum(s => s.BytesDecoded);

        await using var storage = new SequentialImageStorage(job.Device, torrent);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        await using var seeder = new TorrentEngine(new EngineOptions { Listen = [new IPEndPoint(IPAddress.Parse("127.0.0.95"), 0)], Discovery = new DiscoveryOptions { Trackers = false } });
        seeder.Start();
        seeder.Add(torrent, storage, storage.GetDurablePieces());
        var targets = new List<MappedPieceStorage>();
        var engines = new List<TorrentEngine>();
        try
        {
            var sessions = new List<TorrentSession>();
            for (int i = 0; i < 2; i++)
            {
                var target = dir.File($"client{i}.img");
                using (var fill = File.Create(target))
                {
                    fill.SetLength(disk.Size);
                }
                var st = DeviceStorage.Open(target, torrent);
                targets.Add(st);
                var address = IPAddress.Parse($"127.0.0.{96 + i}");
                var e = new TorrentEngine(new EngineOptions { Listen = [new IPEndPoint(address, 0)], LocalAddress = address, Discovery = new DiscoveryOptions { Trackers = false } });
                e.Start();
                engines.Add(e);
                sessions.Add(e.Add(torrent, st, new Bitfield(torrent.PieceCount), new TorrentOptions { Peers = [seeder.LocalEndPoint!] }));
            }
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(90), ct)));
            await all;
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var t in targets) await t.DisposeAsync();
        }
        var restored = File.ReadAllBytes(f.RestoredDisk);
        for (int i = 0; i < 2; i++)
        {
            var copy = File.ReadAllBytes(dir.File($"client{i}.img"));
            foreach (var e in job.Extents.Except(job.NtfsBackupBootSectors))
                Assert.True(copy.AsSpan((int)e.Offset, (int)e.Length).SequenceEqual(restored.AsSpan((int)e.Offset, (int)e.Length)), $"client {i} differs from restoredisk in {e}");
        }
        long served = job.Streams.Sum(s => s.BytesDecoded) - decodedByHashing;
        long total = job.Streams.Sum(s => s.Length);
        Assert.True(served <= 3 * total, $"serving decoded {served} bytes of {total} ({job.Streams.Sum(s => s.Restarts)} restarts)");
    }

    private static IEnumerable<Extent> Gaps(IReadOnlyList<Extent> extents, long size)
    {
        long at = 0;
        foreach (var e in extents)
        {
            if (e.Offset > at) yield return new Extent(at, e.Offset - at);
            at = e.End;
        }
        if (at < size) yield return new Extent(at, size - at);
    }
}
