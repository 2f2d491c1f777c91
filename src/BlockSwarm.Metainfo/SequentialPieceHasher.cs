using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace BlockSwarm.Metainfo;

/// <summary>
/// SHA-1 of every piece of a stream that can only be read in order (data decompressed out of an image): one reader
/// fills piece buffers in stream order on the calling thread, workers hash them on the other cores. At most
/// 2 × parallelism pieces are held at once.
/// </summary>
public static class SequentialPieceHasher
{
    /// <summary>Reads up to <c>destination.Length</c> bytes of the stream, in order; 0 means it ended early.</summary>
    public delegate int ReadNext(Memory<byte> destination);

    /// <summary>The 20-byte SHA-1 of each piece of a <paramref name="length"/>-byte stream, concatenated.</summary>
    /// <param name="onPiece">Called in piece order after the piece was read (before it is hashed): where a caller records what it needs at piece boundaries.</param>
    public static byte[] Hash(long length, int pieceLength, ReadNext read, int parallelism = 0, Action<long>? progress = null,
        Action<int>? onPiece = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceLength);
        long pieces = (length + pieceLength - 1) / pieceLength;
        if (pieces > int.MaxValue / 20) throw new ArgumentException($"{pieces} pieces are too many", nameof(pieceLength));
        int workers = parallelism > 0 ? parallelism : Environment.ProcessorCount;
        var hashes = new byte[pieces * 20];
        var queue = Channel.CreateBounded<(int Piece, byte[] Buffer, int Length)>(new BoundedChannelOptions(workers) { SingleWriter = true });
        var hashers = Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            await foreach (var (piece, buffer, len) in queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    SHA1.HashData(buffer.AsSpan(0, len), hashes.AsSpan(piece * 20, 20));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                progress?.Invoke(len);
            }
        }, cancellationToken)).ToArray();
        try
        {
            for (int p = 0; p < pieces; p++)
            {
                int len = (int)Math.Min(pieceLength, length - (long)p * pieceLength);
                var buffer = ArrayPool<byte>.Shared.Rent(len);
                try
                {
                    for (int done = 0; done < len;)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int n = read(buffer.AsMemory(done, len - done));
                        if (n <= 0)
                            throw new EndOfStreamException($"the stream ended at byte {(long)p * pieceLength + done} of {length} (in piece {p})");
                        done += n;
                    }
                    onPiece?.Invoke(p);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                // Blocks while every worker is busy: reading stays at most a few pieces ahead of hashing.
                if (!queue.Writer.TryWrite((p, buffer, len)))
                    queue.Writer.WriteAsync((p, buffer, len), cancellationToken).AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            queue.Writer.TryComplete();
            try
            {
                Task.WaitAll(hashers, CancellationToken.None);
            }
            catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OperationCanceledException))
            {
            }
            while (queue.Reader.TryRead(out var left)) ArrayPool<byte>.Shared.Return(left.Buffer);
        }
        cancellationToken.ThrowIfCancellationRequested();
        return hashes;
    }
}
