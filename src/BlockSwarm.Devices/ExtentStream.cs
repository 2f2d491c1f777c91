using System.Collections.Immutable;

namespace BlockSwarm.Devices;

/// <summary>
/// The byte stream formed by concatenating extents in order (a torrent's piece stream over
/// a block map). Maps stream ranges to device slices by binary search over cumulative lengths.
/// </summary>
public sealed class ExtentStream
{
    private readonly long[] _streamStarts;
    private readonly long[] _deviceStarts;
    private readonly long[] _lengths;

    public ExtentStream(ImmutableArray<Extent> extents)
    {
        Extents = extents;
        int n = extents.Length;
        _streamStarts = new long[n];
        _deviceStarts = new long[n];
        _lengths = new long[n];
        long pos = 0;
        for (int i = 0; i < n; i++)
        {
            _streamStarts[i] = pos;
            _deviceStarts[i] = extents[i].Offset;
            _lengths[i] = extents[i].Length;
            pos += extents[i].Length;
        }
        Length = pos;
    }

    public ImmutableArray<Extent> Extents { get; }

    /// <summary>Total stream length (sum of extent lengths).</summary>
    public long Length { get; }

    /// <summary>
    /// Appends the device slices covering stream bytes [<paramref name="streamOffset"/>, +<paramref name="length"/>)
    /// to <paramref name="into"/>, in stream order. Throws when the range leaves the stream.
    /// </summary>
    public void MapRange(long streamOffset, int length, List<DeviceSlice> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (streamOffset < 0 || length < 0 || streamOffset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(streamOffset), $"range [{streamOffset}, +{length}) is outside the stream's {Length} bytes");
        if (length == 0) return;
        int i = Array.BinarySearch(_streamStarts, streamOffset);
        if (i < 0) i = ~i - 1;
        // Skip zero-length extents sharing a start (defensive; block maps have none).
        while (_lengths[i] == 0 || streamOffset >= _streamStarts[i] + _lengths[i]) i++;
        int done = 0;
        while (done < length)
        {
            long inExtent = streamOffset + done - _streamStarts[i];
            int n = (int)Math.Min(length - done, _lengths[i] - inExtent);
            if (n > 0)
            {
                // Merge with the previous slice when extents are adjacent on the device.
                if (into.Count > 0 && done > 0 && into[^1].DeviceOffset + into[^1].Length == _deviceStarts[i] + inExtent
                    && into[^1].BufferOffset + into[^1].Length == done)
                    into[^1] = into[^1] with { Length = into[^1].Length + n };
                else
                    into.Add(new DeviceSlice(_deviceStarts[i] + inExtent, n, done));
            }
            done += n;
            i++;
        }
    }
}
