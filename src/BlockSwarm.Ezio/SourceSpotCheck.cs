using System.Security.Cryptography;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Ezio;

/// <summary>
/// seeding_mode trusts the source without hashing it (as EZIO does: it marks every piece verified). A few pieces spread
/// over it are hashed first all the same: a save path that holds another image, or an older one, would otherwise be
/// served until every peer had banned us for bad data, with nothing in our log to say why.
/// </summary>
internal static class SourceSpotCheck
{
    /// <summary>The first of <paramref name="count"/> spread pieces (first and last included) whose hash does not match, or -1.</summary>
    public static int FirstMismatch(MappedPieceStorage source, Torrent torrent, int count, CancellationToken ct)
    {
        int pieces = torrent.PieceCount;
        if (pieces == 0) return -1;
        var buffer = source.PieceBuffers.Rent(torrent.PieceLength);
        try
        {
            Span<byte> hash = stackalloc byte[20];
            int samples = Math.Min(count, pieces);
            for (int k = 0; k < samples; k++)
            {
                ct.ThrowIfCancellationRequested();
                int piece = samples == 1 ? 0 : (int)((long)k * (pieces - 1) / (samples - 1));
                int length = torrent.GetPieceLength(piece);
                // Straight from the device, not through the read cache the engine will use.
                source.ReadStreamDirect((long)piece * torrent.PieceLength, buffer.AsMemory(0, length));
                SHA1.HashData(buffer.AsSpan(0, length), hash);
                if (!hash.SequenceEqual(torrent.GetPieceHash(piece))) return piece;
            }
            return -1;
        }
        finally
        {
            source.PieceBuffers.Return(buffer);
        }
    }
}
