using System.Buffers;
using System.Security.Cryptography;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Start-up: which pieces does the target already hold? A matching resume file is trusted
/// (optionally after hashing a few of its pieces); otherwise the whole target is re-hashed
/// in parallel so no verified piece is ever downloaded twice. The result is recorded in the
/// storage as durable, so later checkpoints keep it.
/// </summary>
public static class PieceRecovery
{
    /// <summary>Pieces hashed per work item: large sequential reads, as <see cref="PieceHasher"/> does.</summary>
    public const int BatchBytes = PieceHasher.BatchBytes;

    public static RecoveryResult Recover(MappedPieceStorage storage, Torrent torrent, string resumePath, RecoveryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(torrent);
        options ??= new RecoveryOptions();
        CheckGeometry(storage, torrent);
        var loaded = ResumeFile.TryLoad(resumePath, torrent, out string reason);
        if (loaded != null)
        {
            var spot = SpotCheck(storage, torrent, loaded, options, cancellationToken);
            if (spot < 0)
            {
                storage.MarkDurable(loaded);
                return new RecoveryResult(loaded, RecoverySource.ResumeFile,
                    $"resume file {resumePath}: {loaded.Count}/{loaded.Length} pieces" + (options.SpotCheckPieces > 0 ? ", spot-check passed" : ""));
            }
            reason = $"piece {spot} listed as present fails its hash";
        }
        if (!options.RehashWhenUntrusted)
            return new RecoveryResult(new Bitfield(torrent.PieceCount), RecoverySource.Empty, $"resume file {resumePath}: {reason}; starting empty");
        if (options.ProbePieces > 0 && Probe(storage, torrent, options.ProbePieces, cancellationToken) is { Found: false } probe)
            return new RecoveryResult(new Bitfield(torrent.PieceCount), RecoverySource.Empty,
                $"resume file {resumePath}: {reason}; none of {probe.Checked} sampled pieces is on the target, starting empty (no full re-hash)");
        var have = Rehash(storage, torrent, options.Parallelism, options.Progress, cancellationToken);
        storage.MarkDurable(have);
        return new RecoveryResult(have, RecoverySource.Rehash, $"resume file {resumePath}: {reason}; re-hashed the target: {have.Count}/{have.Length} pieces good");
    }

    /// <summary>Seed mode: the source is the original, trust it whole without hashing.</summary>
    public static RecoveryResult TrustSeed(IPieceStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var all = new Bitfield(storage.PieceCount);
        all.SetAll();
        storage.MarkDurable(all);
        return new RecoveryResult(all, RecoverySource.TrustedSeed, "seed source trusted without hashing");
    }

    /// <summary>Hashes every piece of the storage in parallel, reading the device directly (not through the read cache).</summary>
    public static Bitfield Rehash(MappedPieceStorage storage, Torrent torrent, int parallelism = 0, Action<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(torrent);
        CheckGeometry(storage, torrent);
        var good = new Bitfield(torrent.PieceCount);
        int pl = torrent.PieceLength;
        int perBatch = Math.Max(1, BatchBytes / pl);
        int batches = (torrent.PieceCount + perBatch - 1) / perBatch;
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
        Parallel.For(0, batches, options,
            () => ArrayPool<byte>.Shared.Rent((int)Math.Min((long)perBatch * pl, storage.TotalLength)),
            (batch, _, buffer) =>
            {
                int p0 = batch * perBatch;
                int p1 = Math.Min(torrent.PieceCount, p0 + perBatch);
                long start = (long)p0 * pl;
                int len = (int)(Math.Min((long)p1 * pl, storage.TotalLength) - start);
                storage.ReadStreamDirect(start, buffer.AsMemory(0, len));
                Span<byte> hash = stackalloc byte[20];
                for (int p = p0; p < p1; p++)
                {
                    int off = (p - p0) * pl;
                    SHA1.HashData(buffer.AsSpan(off, Math.Min(pl, len - off)), hash);
                    if (hash.SequenceEqual(torrent.GetPieceHash(p)))
                        lock (good) good[p] = true;
                }
                progress?.Invoke(len);
                return buffer;
            },
            buffer => ArrayPool<byte>.Shared.Return(buffer));
        return good;
    }

    /// <summary>
    /// Hashes up to <paramref name="count"/> pieces at evenly spread indices, skipping pieces that are all zeros in
    /// the image. Found: one of them is already on the target (worth a full re-hash). Checked: how many were hashed.
    /// </summary>
    private static (bool Found, int Checked) Probe(MappedPieceStorage storage, Torrent torrent, int count, CancellationToken ct)
    {
        int pieces = torrent.PieceCount;
        Span<byte> zeroHash = stackalloc byte[20], zeroLastHash = stackalloc byte[20];
        var buffer = storage.PieceBuffers.Rent(torrent.PieceLength);
        try
        {
            Array.Clear(buffer, 0, torrent.PieceLength);
            SHA1.HashData(buffer.AsSpan(0, torrent.PieceLength), zeroHash);
            SHA1.HashData(buffer.AsSpan(0, torrent.GetPieceLength(pieces - 1)), zeroLastHash);
            // Visit pieces with a stride coprime to the count: spread over the image, every piece reachable when
            // most are zero pieces.
            int stride = Math.Max(1, pieces / Math.Max(1, count));
            while (stride > 1 && Gcd(stride, pieces) != 1) stride--;
            int checkedCount = 0;
            for (int k = 0, p = 0; k < pieces && checkedCount < count; k++, p = (int)((p + (long)stride) % pieces))
            {
                ct.ThrowIfCancellationRequested();
                var expected = torrent.GetPieceHash(p);
                if (expected.SequenceEqual(p == pieces - 1 ? zeroLastHash : zeroHash)) continue;
                checkedCount++;
                if (IsOnTarget(storage, torrent, p, buffer)) return (true, checkedCount);
            }
            // An image of zero pieces only (or nothing sampled): a full re-hash is as cheap as it gets and decides.
            return (checkedCount == 0, checkedCount);
        }
        finally
        {
            storage.PieceBuffers.Return(buffer);
        }

        static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
    }

    /// <summary>Hashes up to N pieces the resume file claims; returns the first bad one or -1.</summary>
    private static int SpotCheck(MappedPieceStorage storage, Torrent torrent, Bitfield claimed, RecoveryOptions options, CancellationToken ct)
    {
        if (options.SpotCheckPieces <= 0 || claimed.Count == 0) return -1;
        var present = new List<int>(claimed.Count);
        for (int i = claimed.NextSet(0); i >= 0; i = claimed.NextSet(i + 1)) present.Add(i);
        var random = options.Random ?? new Random();
        var buffer = storage.PieceBuffers.Rent(torrent.PieceLength);
        try
        {
            for (int k = 0; k < Math.Min(options.SpotCheckPieces, present.Count); k++)
            {
                ct.ThrowIfCancellationRequested();
                int p = present[random.Next(present.Count)];
                if (!IsOnTarget(storage, torrent, p, buffer)) return p;
            }
            return -1;
        }
        finally
        {
            storage.PieceBuffers.Return(buffer);
        }
    }

    /// <summary>Reads piece <paramref name="piece"/> from the device (not the cache) into <paramref name="buffer"/> and checks its hash.</summary>
    private static bool IsOnTarget(MappedPieceStorage storage, Torrent torrent, int piece, byte[] buffer)
    {
        int len = torrent.GetPieceLength(piece);
        storage.ReadStreamDirect((long)piece * torrent.PieceLength, buffer.AsMemory(0, len));
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(buffer.AsSpan(0, len), hash);
        return hash.SequenceEqual(torrent.GetPieceHash(piece));
    }

    private static void CheckGeometry(MappedPieceStorage storage, Torrent torrent)
    {
        if (storage.PieceCount != torrent.PieceCount || storage.PieceLength != torrent.PieceLength || storage.TotalLength != torrent.TotalLength)
            throw new ArgumentException("the storage does not hold this torrent's piece stream", nameof(torrent));
    }
}
