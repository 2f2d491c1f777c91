using BlockSwarm.Devices;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Seed-only storage over an <see cref="ISequentialDevice"/>: a block-image torrent's pieces read out of a device whose
/// bytes are decoded from compressed streams (a Clonezilla image directory). The engine sees an
/// <see cref="ISequentialSource"/> and reveals the pieces in stream order, so the device mostly reads forward.
/// </summary>
public sealed class SequentialImageStorage : MappedPieceStorage, ISequentialSource
{
    private readonly ISequentialDevice _device;

    public SequentialImageStorage(ISequentialDevice device, Torrent torrent, StorageOptions? options = null)
        : base(Checked(device), BlockImageLayout.Create(torrent, device.Size).Stream, torrent.PieceLength, options)
    {
        _device = device;
    }

    public long DecodedWindowBytes => _device.DecodedWindowBytes;

    private static ISequentialDevice Checked(ISequentialDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.CanWrite) throw new ArgumentException($"{device.Name}: a sequential image device is read-only", nameof(device));
        return device;
    }
}
