using BlockSwarm.Devices;

namespace BlockSwarm.Clonezilla.Serving;

/// <summary>
/// A disk as a Clonezilla image directory would restore it, never written anywhere: regions (boot areas in memory,
/// partitions decoded out of their compressed images) at their disk offsets. Read-only; reads must fall inside
/// regions — the torrent's extents are exactly those, so the storage never asks for anything else.
/// </summary>
public sealed class VirtualDisk : ISequentialDevice
{
    private readonly DiskRegion[] _regions;
    private readonly long[] _starts;
    private readonly IReadOnlyList<IDisposable> _owned;

    /// <param name="owned">Decoded streams (and anything else) to dispose with the disk.</param>
    public VirtualDisk(string name, long size, IEnumerable<DiskRegion> regions, long decodedWindowBytes, IReadOnlyList<IDisposable>? owned = null)
    {
        ArgumentNullException.ThrowIfNull(regions);
        Name = name;
        Size = size;
        DecodedWindowBytes = decodedWindowBytes;
        _regions = [.. regions.OrderBy(r => r.Offset)];
        for (int i = 0; i < _regions.Length; i++)
        {
            var r = _regions[i];
            if (r.Length <= 0 || r.Offset < 0 || r.End > size)
                throw new ArgumentException($"{name}: region [{r.Offset}, +{r.Length}) does not fit the {size}-byte disk", nameof(regions));
            if (i > 0 && r.Offset < _regions[i - 1].End)
                throw new ArgumentException($"{name}: regions at {_regions[i - 1].Offset} and {r.Offset} overlap", nameof(regions));
        }
        _starts = [.. _regions.Select(r => r.Offset)];
        _owned = owned ?? [];
    }

    public string Name { get; }
    public long Size { get; }
    public bool CanWrite => false;
    public long DecodedWindowBytes { get; }
    public IReadOnlyList<DiskRegion> Regions => _regions;

    public void Read(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        foreach (var buffer in buffers)
        {
            var span = buffer.Span;
            while (!span.IsEmpty)
            {
                int i = Array.BinarySearch(_starts, offset);
                if (i < 0) i = ~i - 1;
                if (i < 0 || offset >= _regions[i].End)
                    throw new IOException($"{Name}: byte {offset} is outside every region the image restores");
                var r = _regions[i];
                int n = (int)Math.Min(span.Length, r.End - offset);
                r.Source.Read(offset - r.Offset, span[..n]);
                span = span[n..];
                offset += n;
            }
        }
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers) =>
        throw new NotSupportedException($"{Name} is an image directory read as a disk: it cannot be written");

    public void Flush()
    {
    }

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }
}
