namespace BlockSwarm.Devices;

/// <summary>
/// A read-only device whose bytes are decoded out of streams (a disk as a Clonezilla image directory would restore it):
/// reading forward is cheap, reading back within <see cref="DecodedWindowBytes"/> of the furthest point read is a copy,
/// reading further back restarts a decoder. Storage on such a device tells the engine to reveal pieces in order.
/// </summary>
public interface ISequentialDevice : IBlockDevice
{
    /// <summary>Bytes kept decoded behind each stream's cursor.</summary>
    long DecodedWindowBytes { get; }
}
