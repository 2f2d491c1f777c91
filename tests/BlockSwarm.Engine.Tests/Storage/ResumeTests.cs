using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Testing;
using static BlockSwarm.Engine.Tests.Storage.StorageTestKit;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Storage;

public sealed class ResumeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const int PieceLength = 16384;
    private static readonly Extent[] Extents = [new(8192, 300_000), new(600_000, 77_777)];

    [Fact]
    public void Round_trip_keeps_the_bitfield_and_rejects_other_torrents_and_corruption()
    {
        using var dir = new TempDirectory("resume");
        var (torrent, _) = BlockImage(PieceLength, Extents, 1);
        var (other, _) = BlockImage(PieceLength, Extents, 2);
        var bits = new Bitfield(torrent.PieceCount);
        foreach (int p in new[] { 0, 3, 7, torrent.PieceCount - 1 }) bits[p] = true;
        string path = dir.File("t.blockswarm-resume");
        ResumeFile.Save(path, torrent, bits);

        var back = ResumeFile.TryLoad(path, torrent, out _);
        Assert.NotNull(back);
        Assert.Equal(bits.ToBytes(), back.ToBytes());

        Assert.Null(ResumeFile.TryLoad(path, other, out string why));
        Assert.Contains("another torrent", why, StringComparison.Ordinal);

        var bytes = File.ReadAllBytes(path);
        for (int i = 0; i < bytes.Length; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x10;
            Assert.Null(ResumeFile.TryParse(copy, torrent, out _));
        }
        Assert.Null(ResumeFile.TryParse(bytes.AsSpan(0, bytes.Length - 1), torrent, out _));
        Assert.Null(ResumeFile.TryLoad(dir.File("missing"), torrent, out why));
        Assert.Equal("no resume file", why);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public async Task Recovery_trusts_a_matching_resume_file_and_rehashes_when_it_is_wrong()
    {
        using var dir = new TempDirectory("resume");
        var (torrent, stream) = BlockImage(PieceLength, Extents, 3);
        string image = dir.File("t.img");
        string resume = ResumeFile.DefaultPathFor(image);
        var written = Shuffled(torrent.PieceCount, 4).Take(torrent.PieceCount / 2).ToHashSet();
        await using (var storage = DeviceStorage.CreateImage(image, torrent))
        {
            foreach (int p in written) await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
            var saved = await ResumeFile.CheckpointAsync(storage, resume, torrent, Ct);
            Assert.Equal(written.Count, saved.Count);
        }

        await using (var storage = DeviceStorage.Open(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, new RecoveryOptions { Random = new Random(1) }, Ct);
            Assert.Equal(RecoverySource.ResumeFile, r.Source);
            Assert.Equal(written.Order(), Present(r.Pieces));
            Assert.Equal(written.Count, storage.GetDurablePieces().Count);
        }

        // A resume file for another torrent: re-hash finds exactly the pieces written.
        var (other, _) = BlockImage(PieceLength, Extents, 5);
        ResumeFile.Save(resume, other, new Bitfield(other.PieceCount));
        await using (var storage = DeviceStorage.Open(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, cancellationToken: Ct);
            Assert.Equal(RecoverySource.Rehash, r.Source);
            Assert.Contains("another torrent", r.Reason, StringComparison.Ordinal);
            Assert.Equal(written.Order(), Present(r.Pieces));
        }

        // A resume file that lies (claims everything): the spot check catches it.
        var all = new Bitfield(torrent.PieceCount);
        all.SetAll();
        ResumeFile.Save(resume, torrent, all);
        await using (var storage = DeviceStorage.Open(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, new RecoveryOptions { SpotCheckPieces = 64, Random = new Random(2) }, Ct);
            Assert.Equal(RecoverySource.Rehash, r.Source);
            Assert.Equal(written.Order(), Present(r.Pieces));
        }

        // Missing resume file, no re-hash wanted: start empty.
        File.Delete(resume);
        await using (var storage = DeviceStorage.Open(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, new RecoveryOptions { RehashWhenUntrusted = false }, Ct);
            Assert.Equal(RecoverySource.Empty, r.Source);
            Assert.True(r.Pieces.IsEmpty);
        }
    }

    [Fact]
    public async Task Blank_target_without_resume_file_starts_empty_after_a_probe_and_a_full_one_is_found_whole()
    {
        using var dir = new TempDirectory("resume");
        var (torrent, stream) = BlockImage(PieceLength, Extents, 7);
        string image = dir.File("t.img"), resume = ResumeFile.DefaultPathFor(image);
        await using (var storage = DeviceStorage.CreateImage(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, cancellationToken: Ct);
            Assert.Equal(RecoverySource.Empty, r.Source);
            Assert.Contains("sampled pieces", r.Reason, StringComparison.Ordinal);
            Assert.True(r.Pieces.IsEmpty);

            for (int p = 0; p < torrent.PieceCount; p++) await storage.WritePieceAsync(p, Piece(stream, torrent, p), Ct);
            await storage.FlushAsync(Ct);
        }
        await using (var storage = DeviceStorage.Open(image, torrent))
        {
            var r = PieceRecovery.Recover(storage, torrent, resume, cancellationToken: Ct);
            Assert.Equal(RecoverySource.Rehash, r.Source); // the probe hit: the whole target is re-hashed
            Assert.True(r.Pieces.IsComplete);
        }
    }

    [Fact]
    public async Task Seed_mode_trusts_the_source_without_hashing()
    {
        using var dir = new TempDirectory("resume");
        var (torrent, _) = BlockImage(PieceLength, Extents, 6);
        await using var storage = DeviceStorage.CreateImage(dir.File("t.img"), torrent);
        var r = PieceRecovery.TrustSeed(storage);
        Assert.Equal(RecoverySource.TrustedSeed, r.Source);
        Assert.True(storage.GetDurablePieces().IsComplete);
    }

    private static List<int> Present(Bitfield b)
    {
        var l = new List<int>();
        for (int i = b.NextSet(0); i >= 0; i = b.NextSet(i + 1)) l.Add(i);
        return l;
    }
}
