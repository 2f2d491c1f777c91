namespace BlockSwarm.Clonezilla.Serving;

/// <summary>A region of zeros: what restoredisk's wipes leave where nothing else is written.</summary>
public sealed class ZeroRegion : IRegionSource
{
    public static ZeroRegion Instance { get; } = new();

    public void Read(long offset, Span<byte> destination) => destination.Clear();
}
