namespace BlockSwarm.Clonezilla;

/// <summary>
/// One run of bytes Clonezilla's <c>restoredisk</c> writes on the disk: <paramref name="Length"/> bytes at
/// <paramref name="DiskOffset"/>, taken from <paramref name="Source"/> (a file from <paramref name="FileOffset"/>, computed
/// <paramref name="Bytes"/>, or zeros). <paramref name="Purpose"/> says which step of the restore writes it.
/// </summary>
public sealed record ClonezillaBootArea(
    long DiskOffset,
    long Length,
    ClonezillaBootAreaSource Source,
    string? File,
    long FileOffset,
    ReadOnlyMemory<byte> Bytes,
    string Purpose)
{
    public long End => DiskOffset + Length;

    internal static ClonezillaBootArea Zeros(long offset, long length, string purpose) =>
        new(offset, length, ClonezillaBootAreaSource.Zeros, null, 0, ReadOnlyMemory<byte>.Empty, purpose);

    internal static ClonezillaBootArea FromFile(long offset, long length, string file, long fileOffset, string purpose) =>
        new(offset, length, ClonezillaBootAreaSource.File, file, fileOffset, ReadOnlyMemory<byte>.Empty, purpose);

    internal static ClonezillaBootArea FromBytes(long offset, ReadOnlyMemory<byte> bytes, string purpose) =>
        new(offset, bytes.Length, ClonezillaBootAreaSource.Bytes, null, 0, bytes, purpose);

    /// <summary>The part of this area from <paramref name="from"/> to <paramref name="to"/> (disk offsets inside it).</summary>
    internal ClonezillaBootArea Slice(long from, long to) => this with
    {
        DiskOffset = from,
        Length = to - from,
        FileOffset = Source == ClonezillaBootAreaSource.File ? FileOffset + (from - DiskOffset) : 0,
        Bytes = Source == ClonezillaBootAreaSource.Bytes ? Bytes.Slice((int)(from - DiskOffset), (int)(to - from)) : ReadOnlyMemory<byte>.Empty,
    };

    /// <summary>Reads the area's bytes (small: boot areas are at most a few MiB).</summary>
    public byte[] Read()
    {
        var data = new byte[Length];
        switch (Source)
        {
            case ClonezillaBootAreaSource.Bytes:
                Bytes.Span.CopyTo(data);
                break;
            case ClonezillaBootAreaSource.File:
                using (var f = new FileStream(File!, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    f.Position = FileOffset;
                    f.ReadExactly(data);
                }
                break;
        }
        return data;
    }

    public override string ToString() => $"[{DiskOffset}, {End}) {Source}{(File is null ? "" : $" {Path.GetFileName(File)}@{FileOffset}")}: {Purpose}";
}
