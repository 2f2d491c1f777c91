namespace BlockSwarm.Devices;

/// <summary>A contiguous run of bytes on a device: [Offset, Offset + Length).</summary>
public readonly record struct Extent(long Offset, long Length) : IComparable<Extent>
{
    public long End => Offset + Length;

    public bool Overlaps(Extent other) => Offset < other.End && other.Offset < End;

    public int CompareTo(Extent other)
    {
        int c = Offset.CompareTo(other.Offset);
        return c != 0 ? c : Length.CompareTo(other.Length);
    }

    public override string ToString() => $"[0x{Offset:x}, 0x{End:x}) {Length} B";

    public static bool operator <(Extent left, Extent right) => left.CompareTo(right) < 0;
    public static bool operator >(Extent left, Extent right) => left.CompareTo(right) > 0;
    public static bool operator <=(Extent left, Extent right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Extent left, Extent right) => left.CompareTo(right) >= 0;
}
