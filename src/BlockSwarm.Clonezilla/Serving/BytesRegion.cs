namespace BlockSwarm.Clonezilla.Serving;

/// <summary>A region held in memory: a boot area read from its small file (MBR, hidden data, GPT), a swap header.</summary>
public sealed class BytesRegion(byte[] data) : IRegionSource
{
    public int Length => data.Length;

    public void Read(long offset, Span<byte> destination) => data.AsSpan((int)offset, destination.Length).CopyTo(destination);
}
