using System.Buffers;
using System.Buffers.Binary;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Tests.Session;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Devices;
using BlockSwarm.Testing;

namespace BlockSwarm.Engine.Tests.Wire;

/// <summary>Pieces sent from a file: the regions storage hands out, and the read-in path of transports without sendfile.</summary>
public sealed class FileRunTests
{
    [Fact]
    public async Task Storage_maps_a_run_to_the_device_regions_of_the_torrent_layout()
    {
        using var dir = new TempDirectory("filerun");
        var (img, t) = LoopbackSwarmTests.MakeImage(dir, 3);
        await using var storage = DeviceStorage.Open(img, t, writable: false);
        var image = await File.ReadAllBytesAsync(img, TestContext.Current.CancellationToken);
        // Every piece; one of them crosses from one extent into the next (two regions).
        for (int piece = 0; piece < t.PieceCount; piece++)
        {
            int len = t.GetPieceLength(piece);
            var run = storage.TryGetFileRun(piece, 0, len);
            Assert.NotNull(run);
            Assert.Equal(len, run.Length);
            var expect = new byte[len];
            await storage.ReadAsync(piece, 0, expect, TestContext.Current.CancellationToken);
            var got = run.Regions.SelectMany(r => image.AsSpan((int)r.Offset, r.Length).ToArray()).ToArray();
            Assert.Equal(expect, got);
        }
        Assert.Contains(Enumerable.Range(0, t.PieceCount), p => storage.TryGetFileRun(p, 0, t.GetPieceLength(p))!.Regions.Count > 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.TryGetFileRun(0, t.PieceLength - 16384, 32768));
    }

    [Fact]
    public async Task A_transport_without_sendfile_reads_the_run_into_the_message()
    {
        using var dir = new TempDirectory("filerun");
        var path = dir.File("data.bin");
        var data = new byte[100_000];
        new Random(4).NextBytes(data);
        await File.WriteAllBytesAsync(path, data, TestContext.Current.CancellationToken);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
        using var file = new FileStream(handle, FileAccess.Read, 0, isAsync: true);
        var run = new FileRun(file, [(1000, 5000), (50_000, 3000)]);
        var message = OutgoingMessage.Piece(7, 32768, run);
        Assert.Equal(13 + 8000, message.WireLength);
        Assert.Equal(8000, message.PayloadByteCount);

        var writer = new ArrayBufferWriter<byte>();
        MessageWriter.Write(writer, message);
        var bytes = writer.WrittenSpan;
        Assert.Equal(message.WireLength, bytes.Length);
        Assert.Equal(9u + 8000, BinaryPrimitives.ReadUInt32BigEndian(bytes));
        Assert.Equal((byte)MessageKind.Piece, bytes[4]);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(bytes[5..]));
        Assert.Equal(32768u, BinaryPrimitives.ReadUInt32BigEndian(bytes[9..]));
        Assert.Equal(data.AsSpan(1000, 5000).ToArray(), bytes.Slice(13, 5000).ToArray());
        Assert.Equal(data.AsSpan(50_000, 3000).ToArray(), bytes.Slice(5013, 3000).ToArray());
        // A span writer cannot read files: refused rather than writing a header with no payload.
        Assert.Throws<ArgumentException>(() => MessageWriter.Write(new byte[9000], message));
        // Regions past the file's end are a short read, an error.
        var past = OutgoingMessage.Piece(0, 0, new FileRun(file, [(99_000, 5000)]));
        Assert.Throws<IOException>(() => MessageWriter.Write(new ArrayBufferWriter<byte>(), past));
    }
}
