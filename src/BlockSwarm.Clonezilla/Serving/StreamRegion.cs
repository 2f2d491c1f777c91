namespace BlockSwarm.Clonezilla.Serving;

/// <summary>A region whose every byte comes from a decoded stream, in order (a raw dd image of a partition).</summary>
public sealed class StreamRegion(DecodedStream data) : IRegionSource
{
    public void Read(long offset, Span<byte> destination) => data.Read(offset, destination);
}
