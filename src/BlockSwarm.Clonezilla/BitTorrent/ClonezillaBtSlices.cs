using System.Collections.Immutable;
using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.BitTorrent;

/// <summary>
/// The slice files Clonezilla's BitTorrent mode cuts a partclone image into on its image route
/// (<c>ocs-gen-bt-slices</c>: <c>partclone.FS -d -r -s - -T --buffer_size 16777216 -o btzone/IMAGE/PART</c>), which are
/// the files of the partition's torrent. partclone's restore loop reads the used blocks a buffer at a time
/// (<c>buffer_size / block_size</c> blocks, at least one) and writes each run of consecutive used blocks inside a buffer
/// to a new file named by its byte offset: a file ends where a run ends or where a buffer ends, i.e. at every multiple
/// of the buffer's capacity counted in used blocks from the start of the partition (not in run length, as the device
/// route <c>partclone -c -t</c> does). docs/clonezilla-image-format.md §5 cites the lines.
/// </summary>
public static class ClonezillaBtSlices
{
    /// <summary>drbl-ocs.conf's <c>bt_buffer_size</c>, which ocs-gen-bt-slices hands partclone as <c>--buffer_size</c>.</summary>
    public const int BufferBytes = 16 << 20;

    /// <summary>Used blocks partclone holds per buffer: <c>buffer_size &gt; block_size ? buffer_size / block_size : 1</c>.</summary>
    public static long BlocksPerBuffer(int blockSize, int bufferBytes = BufferBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bufferBytes);
        return bufferBytes > blockSize ? bufferBytes / blockSize : 1;
    }

    /// <summary>
    /// The slice files (byte offset from the partition start, length) of a partition whose used blocks are
    /// <paramref name="usedExtents"/> (sorted, disjoint, whole blocks of <paramref name="blockSize"/> bytes; adjacent
    /// extents may be merged or not, the result is the same), in partition order.
    /// </summary>
    public static ImmutableArray<Extent> Cut(IReadOnlyList<Extent> usedExtents, int blockSize, int bufferBytes = BufferBytes)
    {
        ArgumentNullException.ThrowIfNull(usedExtents);
        long chunk = BlocksPerBuffer(blockSize, bufferBytes) * blockSize;
        var slices = ImmutableArray.CreateBuilder<Extent>();
        long usedBefore = 0;
        long previousEnd = -1;
        foreach (var e in usedExtents)
        {
            if (e.Length <= 0 || e.Offset < 0 || e.Offset % blockSize != 0 || e.Length % blockSize != 0)
                throw new ArgumentException($"extent {e} is not whole {blockSize}-byte blocks", nameof(usedExtents));
            if (e.Offset < previousEnd)
                throw new ArgumentException($"extent {e} overlaps or precedes the one before it", nameof(usedExtents));
            // A run that continues the previous extent (not merged by the caller) is the same run to partclone.
            bool continues = e.Offset == previousEnd && usedBefore % chunk != 0 && slices.Count > 0;
            long at = e.Offset;
            long left = e.Length;
            while (left > 0)
            {
                long room = chunk - usedBefore % chunk;
                long n = Math.Min(room, left);
                if (continues)
                {
                    slices[^1] = new Extent(slices[^1].Offset, slices[^1].Length + n);
                    continues = false;
                }
                else
                {
                    slices.Add(new Extent(at, n));
                }
                at += n;
                left -= n;
                usedBefore += n;
            }
            previousEnd = e.End;
        }
        return slices.ToImmutable();
    }
}
