using System.Buffers;
using System.Security.Cryptography;
using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Metainfo;

/// <summary>
/// SHA-1 of every piece of an extent stream, on every core. Work items are runs of whole
/// pieces of about <see cref="BatchBytes"/> so reads are large and sequential within a run;
/// each worker owns one pooled buffer. Short reads are errors (<see cref="DeviceFile.ReadExactly"/>).
/// </summary>
public sealed class PieceHasher
{
    public const int BatchBytes = 8 << 20;

    public PieceHasher(DeviceFile device, ExtentStream stream, int pieceLength)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceLength);
        Device = device;
        Stream = stream;
        PieceLength = pieceLength;
        PieceCount = (int)((stream.Length + pieceLength - 1) / pieceLength);
    }

    public DeviceFile Device { get; }
    public ExtentStream Stream { get; }
    public int PieceLength { get; }
    public int PieceCount { get; }

    /// <summary>Degree of parallelism; defaults to the core count.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Hashes every piece; <paramref name="progress"/> receives bytes hashed (called from workers).</summary>
    public byte[] HashAll(Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var hashes = new byte[PieceCount * 20];
        HashPieces(0, PieceCount, (piece, hash) => hash.CopyTo(hashes.AsSpan(piece * 20, 20)), progress, cancellationToken);
        return hashes;
    }

    /// <summary>Indexes of pieces whose SHA-1 differs from <paramref name="expected"/> (20 bytes per piece).</summary>
    public IReadOnlyList<int> FindBadPieces(ReadOnlyMemory<byte> expected, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (expected.Length != PieceCount * 20)
            throw new ArgumentException($"expected {PieceCount * 20} bytes of hashes, got {expected.Length}", nameof(expected));
        var bad = new List<int>();
        HashPieces(0, PieceCount, (piece, hash) =>
        {
            if (!hash.SequenceEqual(expected.Span.Slice(piece * 20, 20)))
                lock (bad) bad.Add(piece);
        }, progress, cancellationToken);
        bad.Sort();
        return bad;
    }

    /// <summary>Delegate receiving one piece's hash; called concurrently from workers.</summary>
    public delegate void PieceHashed(int piece, ReadOnlySpan<byte> sha1);

    public void HashPieces(int firstPiece, int count, PieceHashed onPiece, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onPiece);
        if (count <= 0) return;
        int perBatch = Math.Max(1, BatchBytes / PieceLength);
        int batches = (count + perBatch - 1) / perBatch;
        int bufferSize = (int)Math.Min((long)perBatch * PieceLength, Stream.Length);
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Parallelism), CancellationToken = cancellationToken };
        Parallel.For(0, batches, options,
            () => new Worker(ArrayPool<byte>.Shared.Rent(bufferSize)),
            (batch, _, worker) =>
            {
                int p0 = firstPiece + batch * perBatch;
                int p1 = Math.Min(firstPiece + count, p0 + perBatch);
                long start = (long)p0 * PieceLength;
                int len = (int)(Math.Min((long)p1 * PieceLength, Stream.Length) - start);
                var buf = worker.Buffer.AsSpan(0, len);
                worker.Slices.Clear();
                Stream.MapRange(start, len, worker.Slices);
                foreach (var s in worker.Slices)
                    Device.ReadExactly(s.DeviceOffset, buf.Slice(s.BufferOffset, s.Length));
                Span<byte> hash = stackalloc byte[20];
                for (int p = p0; p < p1; p++)
                {
                    int off = (p - p0) * PieceLength;
                    int plen = Math.Min(PieceLength, len - off);
                    SHA1.HashData(buf.Slice(off, plen), hash);
                    onPiece(p, hash);
                }
                progress?.Invoke(len);
                return worker;
            },
            worker => ArrayPool<byte>.Shared.Return(worker.Buffer));
    }

    private sealed class Worker(byte[] buffer)
    {
        public byte[] Buffer { get; } = buffer;
        public List<DeviceSlice> Slices { get; } = [];
    }
}
