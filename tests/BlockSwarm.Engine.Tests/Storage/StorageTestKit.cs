using System.Buffers;
using System.Security.Cryptography;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Tests.Storage;

/// <summary>Builds block-image torrents over random data, and the fakes storage tests inject.</summary>
internal static class StorageTestKit
{
    public static (Torrent Torrent, byte[] Stream) BlockImage(int pieceLength, IReadOnlyList<Extent> extents, int seed)
    {
        long total = extents.Sum(e => e.Length);
        var data = new byte[total];
        new Random(seed).NextBytes(data);
        var b = new TorrentBuilder("image", pieceLength) { PieceHashes = Hashes(data, pieceLength) };
        foreach (var e in extents) b.AddFile([BlockImageLayout.FormatHexOffset(e.Offset)], e.Length);
        return (b.Build(), data);
    }

    public static byte[] Hashes(ReadOnlySpan<byte> data, int pieceLength)
    {
        int n = (data.Length + pieceLength - 1) / pieceLength;
        var h = new byte[n * 20];
        for (int i = 0; i < n; i++)
        {
            int off = i * pieceLength;
            SHA1.HashData(data.Slice(off, Math.Min(pieceLength, data.Length - off)), h.AsSpan(i * 20, 20));
        }
        return h;
    }

    public static PooledPieceBuffer Piece(byte[] stream, Torrent t, int piece, ArrayPool<byte>? pool = null)
    {
        int len = t.GetPieceLength(piece);
        var buf = new PooledPieceBuffer(len, pool);
        stream.AsSpan((int)((long)piece * t.PieceLength), len).CopyTo(buf.Span);
        return buf;
    }

    public static int[] Shuffled(int count, int seed)
    {
        var a = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(a);
        return a;
    }
}

/// <summary>Wraps a device: counts writes, can hold writes at a gate, can fail the Nth write.</summary>
internal sealed class FakeDevice(IBlockDevice inner) : IBlockDevice
{
    private int _writes;
    public ManualResetEventSlim Gate { get; } = new(true);
    public ManualResetEventSlim WriteEntered { get; } = new(false);
    public int FailAtWrite { get; set; } = -1;
    public string FailMessage { get; set; } = "No space left on device";
    public int Writes => Volatile.Read(ref _writes);
    public int Flushes { get; private set; }
    public List<(long Offset, long Length, int Segments)> Log { get; } = [];
    public string Name => inner.Name;
    public long Size => inner.Size;
    public bool CanWrite => inner.CanWrite;
    public void Read(long offset, IReadOnlyList<Memory<byte>> buffers) => inner.Read(offset, buffers);

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        WriteEntered.Set();
        Gate.Wait(TimeSpan.FromSeconds(30));
        int n = Interlocked.Increment(ref _writes);
        if (n == FailAtWrite) throw new IOException(FailMessage);
        lock (Log) Log.Add((offset, buffers.Sum(b => (long)b.Length), buffers.Count));
        inner.Write(offset, buffers);
    }

    public void Flush()
    {
        Flushes++;
        inner.Flush();
    }

    public void Dispose()
    {
        inner.Dispose();
        Gate.Dispose();
        WriteEntered.Dispose();
    }
}

/// <summary>An ArrayPool that counts rents and returns and tracks bytes outstanding.</summary>
internal sealed class CountingPool : ArrayPool<byte>
{
    private long _outstanding;
    private long _max;
    private int _rents;
    private int _returns;

    public int Rents => Volatile.Read(ref _rents);
    public int Returns => Volatile.Read(ref _returns);
    public long MaxOutstandingBytes => Interlocked.Read(ref _max);

    public override byte[] Rent(int minimumLength)
    {
        var a = Shared.Rent(minimumLength);
        Interlocked.Increment(ref _rents);
        long now = Interlocked.Add(ref _outstanding, a.Length);
        long m;
        while (now > (m = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, m) != m) { }
        return a;
    }

    public override void Return(byte[] array, bool clearArray = false)
    {
        Interlocked.Increment(ref _returns);
        Interlocked.Add(ref _outstanding, -array.Length);
        Shared.Return(array, clearArray);
    }
}
