using System.Diagnostics;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Storage;

/// <summary>Measures write throughput of 1 GiB of pieces to an image file. Opt-in: BLOCKSWARM_BENCH=1.</summary>
public sealed class WriteThroughputTests
{
    [Fact]
    public async Task One_GiB_of_pieces_in_random_order_to_an_image_file()
    {
        Requires.OptIn("BLOCKSWARM_BENCH", "measure write throughput");
        var ct = TestContext.Current.CancellationToken;
        const int pl = 1 << 20;
        const long total = 1L << 30;
        using var dir = new TempDirectory("bench");
        var torrent = new TorrentBuilder("image", pl) { PieceHashes = new byte[(int)(total / pl) * 20] }
            .AddFile([BlockImageLayout.FormatHexOffset(1 << 20)], total).Build();
        var data = new byte[pl];
        new Random(1).NextBytes(data);
        var order = Enumerable.Range(0, torrent.PieceCount).ToArray();
        new Random(2).Shuffle(order);
        var sw = Stopwatch.StartNew();
        long calls;
        await using (var storage = DeviceStorage.CreateImage(dir.File("bench.img"), torrent))
        {
            foreach (int p in order)
            {
                var buf = new PooledPieceBuffer(pl);
                data.CopyTo(buf.Span);
                await storage.WritePieceAsync(p, buf, ct);
            }
            await storage.FlushAsync(ct);
            calls = storage.WriteCalls;
        }
        sw.Stop();
        TestContext.Current.SendDiagnosticMessage(
            $"1 GiB in {sw.Elapsed.TotalSeconds:F2} s = {total / sw.Elapsed.TotalSeconds / 1e6:F0} MB/s incl. fsync, {calls} gather writes");
        Console.WriteLine($"BENCH 1 GiB in {sw.Elapsed.TotalSeconds:F2} s = {total / sw.Elapsed.TotalSeconds / 1e6:F0} MB/s incl. fsync, {calls} gather writes");
    }
}
