namespace BlockSwarm.Clonezilla.Serving;

/// <summary>[<see cref="Offset"/>, +<see cref="Length"/>) of a virtual disk, with where its bytes come from.</summary>
public sealed record DiskRegion(long Offset, long Length, IRegionSource Source)
{
    public long End => Offset + Length;
}
