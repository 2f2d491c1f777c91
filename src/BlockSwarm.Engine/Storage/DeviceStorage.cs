using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Hosting;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A block-image torrent stored on a block device or image file: each file of the torrent is
/// a run of bytes at the device offset its hex name gives. Only those extents are ever
/// written; everything else on the device is left untouched.
/// <para>
/// Opened for writing, it writes per <see cref="StorageOptions.WriteMode"/>, by default (<see cref="WriteMode.Auto"/>)
/// past the page cache (<see cref="DirectIOBlockDevice"/>): the aligned middle of every coalesced run goes with O_DIRECT,
/// straight from the piece buffers where they are aligned (else through aligned bounce buffers), several writes in
/// flight; the unaligned edges buffered, so extents need not be sector-aligned and nothing outside them is written.
/// Where the target does not take O_DIRECT, Auto writes buffered and logs why once. fsync still runs at every
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

    /// <summary>
    /// The device a writable target is written through, per <see cref="StorageOptions.WriteMode"/>. With O_DIRECT the
    /// bounce buffers are part of the cache the operator allowed, not on top of it: <paramref name="options"/> comes back
    /// with that much less write-back cache. A shared budget cannot shrink for one storage: there the bounce buffers (a
    /// sixteenth of write-back, at most 8 MiB, allocated only when pieces are not aligned) come on top.
    /// </summary>
    private static IBlockDevice OpenForWriting(DeviceFile file, ref StorageOptions options)
    {
        if (options.WriteMode == WriteMode.Buffered) return new DeviceFileBlockDevice(file);
        long cacheBytes = options.Memory?.WriteBackCapacity ?? options.CacheBytes;
        DirectIOBlockDevice direct;
        var log = options.LoggerFactory.CreateLogger<DeviceStorage>();
        if (options.WriteMode == WriteMode.Direct)
        {
            direct = DirectIOBlockDevice.Open(file, cacheBytes);
        }
        else
        {
            string path = file.Path;
            if (!DirectIOBlockDevice.TryOpen(file, cacheBytes, out var opened, out var refusal,
                    onRefusedAtWrite: why => EngineLog.WritingBuffered(log, LogLevel.Warning, path, why + "; the rest is written buffered")))
            {
                // On a memory file system buffered is what a careful operator would pick anyway: no cause for a warning.
                EngineLog.WritingBuffered(log, refusal.InMemoryFileSystem ? LogLevel.Information : LogLevel.Warning, path, refusal.Reason);
                return new DeviceFileBlockDevice(file);
            }
            direct = opened;
        }
        EngineLog.WritingDirect(log, file.Path, direct.Alignment, direct.BounceBytes);
        if (options.Memory is null) options = options with { CacheBytes = Math.Max(1, options.CacheBytes - direct.BounceBytes) };
        return direct;
    }

    private static DeviceStorage Wrap(DeviceFile file, Torrent torrent, StorageOptions? options)
    {
        options ??= new StorageOptions();
        IBlockDevice device;
        try
        {
            device = file.IsWritable ? OpenForWriting(file, ref options) : new DeviceFileBlockDevice(file);
        }
        catch
        {
            file.Dispose();
            throw;
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
