namespace BlockSwarm.Clonezilla.Serving;

/// <summary>The bytes of one region of a <see cref="VirtualDisk"/>, read by offset within the region.</summary>
public interface IRegionSource
{
    void Read(long offset, Span<byte> destination);
}
