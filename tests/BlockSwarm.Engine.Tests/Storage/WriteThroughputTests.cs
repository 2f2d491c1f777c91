using System.Diagnostics;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Storage;

/// <summary>
/// Measures the storage writer alone: 1 GiB of 4 MiB pieces from the piece pool, in random order, into a new image file
/// in the temp directory, with O_DIRECT (the default) and buffered, fsync included. Opt-in: BLOCKSWARM_BENCH=1. The
/// whole transfer against <c>dd</c> is <c>blockswarm-bench disk</c> (bench/README.md).
/// </summary>
public sealed class WriteThroughputTests
{
    [Theory]
    [InlineData(WriteMode.Auto)]
    [InlineData(WriteMode.Buffered)]
    public async Task One_GiB_of_pieces_in_random_order_to_an_image_file(WriteMode mode)
    {
        Requires.OptIn("BLOCKSWARM_BENCH", "measure write throughput");
        Requires.All(Need.DirectIO);
        var ct = TestContext.Current.CancellationToken;
        const int pl = 4 << 20;
        const long total = 1L << 30;
        using var dir = new TempDirectory("bench");
        var torrent = new TorrentBuilder("image", pl) { PieceHashes = new byte[(int)(total / pl) * 20] }
            .AddFile([BlockImageLayout.FormatHexOffset(1 << 20)], total).Build();
        var data = new byte[pl];
        new Random(1).NextBytes(data);
        var order = Enumerable.Range(0, torrent.PieceCount).ToArray();
        new Random(2).Shuffle(order);
        var memory = PieceMemory.Split(256L << 20, pl);
        Tool.Run("sync"); // earlier dirty pages are not this run's to write
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long runs, zeroCopy = 0;
        await using (var storage = DeviceStorage.CreateImage(dir.File("bench.img"), torrent, options: new StorageOptions { Memory = memory, WriteMode = mode }))
        {
            foreach (int p in order)
            {
                var buf = new PooledPieceBuffer(pl, memory.Buffers);
                data.CopyTo(buf.Span);
                await storage.WritePieceAsync(p, buf, ct);
            }
            await storage.FlushAsync(ct);
            runs = storage.WriteCalls;
            if (storage.Device is DirectIOBlockDevice d) zeroCopy = d.ZeroCopyBytes;
        }
        sw.Stop();
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        string line = $"{mode}: 1 GiB in {sw.Elapsed.TotalSeconds:F2} s = {total / sw.Elapsed.TotalSeconds / 1e6:F0} MB/s incl. fsync, "
            + $"{used.TotalSeconds:F2} CPU-s (with filling the pieces), {runs} runs, {zeroCopy >> 20} MiB written without a copy";
        TestContext.Current.SendDiagnosticMessage(line);
        Console.WriteLine("BENCH " + line);
    }
}
