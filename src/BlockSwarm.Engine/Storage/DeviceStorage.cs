using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A block-image torrent stored on a block device or image file: each file of the torrent is
/// a run of bytes at the device offset its hex name gives. Only those extents are ever
/// written; everything else on the device is left untouched.
/// <para>
/// With <see cref="StorageOptions.DirectIO"/> the writes bypass the page cache (<see cref="DirectIOBlockDevice"/>):
/// the aligned middle of every coalesced run goes through an aligned bounce buffer with O_DIRECT, the unaligned edges
/// buffered, so extents need not be sector-aligned and nothing outside them is written. fsync still runs at every
/// checkpoint and at the end.
/// </para>
/// </summary>
public sealed class DeviceStorage : MappedPieceStorage
{
    public DeviceStorage(IBlockDevice device, BlockImageLayout layout, StorageOptions? options = null)
        : base(device, (layout ?? throw new ArgumentNullException(nameof(layout))).Stream, layout.Torrent.PieceLength, options)
    {
        Layout = layout;
    }

    public BlockImageLayout Layout { get; }

    /// <summary>
    /// Opens an existing device or image file for fetching (read/write) or seeding
    /// (<paramref name="writable"/> false). The layout is validated against the device's
    /// size before anything is written.
    /// </summary>
    public static DeviceStorage Open(string path, Torrent torrent, StorageOptions? options = null, bool writable = true)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        var file = writable ? DeviceFile.OpenReadWrite(path) : DeviceFile.OpenRead(path);
        return Wrap(file, torrent, options);
    }

    /// <summary>Opens or creates an image file (sparse) big enough for the layout, or <paramref name="size"/> bytes when given.</summary>
    public static DeviceStorage CreateImage(string path, Torrent torrent, long? size = null, StorageOptions? options = null)
    {
        var layout = BlockImageLayout.Create(torrent);
        var file = DeviceFile.CreateImage(path, size ?? layout.RequiredDeviceSize);
        if (!file.IsBlockDevice) Preallocate(file, layout);
        return Wrap(file, torrent, options);
    }

    /// <summary>
    /// Reserves the blocks of the torrent's extents (only those: the image stays sparse elsewhere). Buffered writes
    /// into a sparse file pay for delayed block allocation page by page (ext4 on the development VM: ~2.5 system
    /// CPU-s per GiB, against ~1.1 into reserved blocks), and a full disk shows up now instead of mid-transfer.
    /// File systems without fallocate simply skip it.
    /// </summary>
    private static void Preallocate(DeviceFile file, BlockImageLayout layout)
    {
        foreach (var e in layout.Stream.Extents)
        {
            if (e.Length == 0) continue;
            int errno = NativeMethods.Fallocate(file.Handle, e.Offset, e.Length);
            if (errno == NativeMethods.ENOSPC)
            {
                file.Dispose();
                throw new StorageException($"{file.Path}: not enough free space for the image's {layout.Stream.Length} bytes of extents");
            }
            if (errno != 0) return;
        }
    }

    private static DeviceStorage Wrap(DeviceFile file, Torrent torrent, StorageOptions? options)
    {
        IBlockDevice device;
        if (options is { DirectIO: true } && file.IsWritable)
        {
            try
            {
                var direct = DirectIOBlockDevice.Open(file, options.Memory?.WriteBackCapacity ?? options.CacheBytes);
                // The bounce buffer is part of the cache the operator allowed, not on top of it. A shared budget cannot
                // shrink for one storage: there the bounce buffer (a sixteenth of write-back, at most 8 MiB) comes on top.
                if (options.Memory is null) options = options with { CacheBytes = Math.Max(1, options.CacheBytes - direct.BounceBytes) };
                device = direct;
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        else
        {
            device = new DeviceFileBlockDevice(file);
        }
        try
        {
            BlockImageLayout layout;
            try
            {
                layout = BlockImageLayout.Create(torrent, file.Size);
            }
            catch (TorrentException ex)
            {
                throw new StorageException($"{file.Path}: {ex.Message}", ex);
            }
            return new DeviceStorage(device, layout, options);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
