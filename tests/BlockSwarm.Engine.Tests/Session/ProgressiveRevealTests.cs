using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>
/// An origin whose storage reads cheaply only in order (a compressed image stream) reveals its pieces a window at a
/// time: whatever the leechers' pickers would choose, the origin's reads stay within the window of the furthest piece
/// it has read, and the leechers still finish bit-exact, getting the older pieces from each other.
/// </summary>
public sealed class ProgressiveRevealTests
{
    [Fact]
    public async Task Origin_reads_stay_near_its_cursor_and_two_leechers_finish_bit_exact()
    {
        using var dir = new TempDirectory("reveal");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 61, pieceLength: 128 << 10);
        var ct = TestContext.Current.CancellationToken;
        const int Window = 4;
        await using var inner = LoopbackSwarmTests.OpenTrustedSeed(img, t);
        var source = new OrderedSource(inner);
        await using var seedEngine = TestEngines.Start(IPAddress.Parse("127.0.0.81"), seed: 1);
        seedEngine.Add(t, source, inner.GetDurablePieces(), new TorrentOptions { RevealWindow = Window });

        var storages = new List<IPieceStorage>();
        var engines = new List<TorrentEngine>();
        try
        {
            var sessions = new List<TorrentSession>();
            for (int i = 0; i < 2; i++)
            {
                var st = DeviceStorage.CreateImage(dir.File($"t{i}.img"), t, size: new FileInfo(img).Length);
                storages.Add(st);
                var e = TestEngines.Start(IPAddress.Parse($"127.0.0.{82 + i}"), seed: 10 + i);
                engines.Add(e);
                sessions.Add(e.Add(t, st, new Bitfield(t.PieceCount), new TorrentOptions { Peers = [seedEngine.LocalEndPoint!] }));
            }
            // The leechers know each other from the start, as a tracker would tell them: on a loaded box PEX from the
            // origin came late enough that one leecher fetched nearly everything from the origin, far behind its cursor.
            sessions[1].AddPeer(sessions[0].LocalEndPoint!);
            var all = Task.WhenAll(sessions.Select(s => s.Completion));
            Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60), ct)));
            await all;
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
            foreach (var s in storages) await s.DisposeAsync();
        }
        for (int i = 0; i < 2; i++) LoopbackSwarmTests.AssertExtentsEqual(t, img, dir.File($"t{i}.img"));

        // The origin's reads move forward through the stream: never far ahead of the furthest piece read (only revealed
        // pieces are asked for; a few more may be granted and queued), and hardly ever behind the source's decoded window.
        int highest = -1, behind = 0, reads = 0;
        int decodedPieces = (int)(source.DecodedWindowBytes / t.PieceLength);
        foreach (int piece in source.Reads)
        {
            reads++;
            Assert.True(piece <= highest + 3 * Window, $"piece {piece} read while the furthest read was {highest} (window {Window})");
            if (piece < highest - decodedPieces) behind++;
            highest = Math.Max(highest, piece);
        }
        Assert.Equal(t.PieceCount - 1, highest);
        // A leecher that lags (a loaded 2-core box) still asks the origin for pieces the other leecher has by then: the
        // origin serves them (it must not starve anyone), so a few reads fall behind; most never do.
        Assert.True(behind <= reads / 8, $"{behind} of {reads} reads were behind the decoded window: {string.Join(' ', source.Reads)}");
    }

    /// <summary>A storage that claims in-order reads are cheap, and records the order of the pieces read from it.</summary>
    private sealed class OrderedSource(IPieceStorage inner) : IPieceStorage, ISequentialSource
    {
        public ConcurrentQueue<int> Reads { get; } = new();
        public long DecodedWindowBytes => 8L << 20;
        public int PieceCount => inner.PieceCount;
        public bool IsWritable => false;
        public long CacheBudget => inner.CacheBudget;
        public long PendingWriteBytes => 0;
        public Devices.StorageException? Fault => inner.Fault;

        public ValueTask ReadAsync(int piece, int offset, Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            Reads.Enqueue(piece);
            return inner.ReadAsync(piece, offset, destination, cancellationToken);
        }

        public ValueTask WritePieceAsync(int piece, IMemoryOwner<byte> data, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("a seed source");

        public ValueTask WaitForCacheSpaceAsync(int bytes, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public Bitfield GetDurablePieces() => inner.GetDurablePieces();
        public void MarkDurable(Bitfield pieces) => inner.MarkDurable(pieces);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
