using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

/// <summary>
/// A block device or image file opened for positional I/O. The size comes from the kernel
/// for block devices (<c>BLKGETSIZE64</c>; <c>FileStream.Length</c> is 0 there) and from the
/// file otherwise. Every read and write is checked for short counts.
/// </summary>
public sealed partial class DeviceFile : IDisposable
{
    private const uint BlkGetSize64 = 0x80081272;

    private DeviceFile(string path, SafeFileHandle handle, long size, bool isBlockDevice, bool writable)
    {
        Path = path;
        Handle = handle;
        Size = size;
        IsBlockDevice = isBlockDevice;
        IsWritable = writable;
    }

    public string Path { get; }
    public SafeFileHandle Handle { get; }
    public long Size { get; }
    public bool IsBlockDevice { get; }
    public bool IsWritable { get; }

    /// <summary>Opens a source read-only. Throws <see cref="FileNotFoundException"/> or <see cref="IOException"/> with the path.</summary>
    public static DeviceFile OpenRead(string path) => Open(path, FileMode.Open, FileAccess.Read, FileOptions.None);

    /// <summary>Opens an existing target (device or image file) for reading and writing.</summary>
    public static DeviceFile OpenReadWrite(string path, FileOptions options = FileOptions.None) =>
        Open(path, FileMode.Open, FileAccess.ReadWrite, options);

    /// <summary>Opens or creates an image file (never a device) of at least <paramref name="size"/> bytes.</summary>
    public static DeviceFile CreateImage(string path, long size)
    {
        var dev = Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileOptions.None);
        if (!dev.IsBlockDevice && dev.Size < size)
        {
            RandomAccess.SetLength(dev.Handle, size);
            var grown = new DeviceFile(dev.Path, dev.Handle, size, false, true);
            return grown;
        }
        return dev;
    }

    private static DeviceFile Open(string path, FileMode mode, FileAccess access, FileOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (mode == FileMode.Open && !File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or device", path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, mode, access, FileShare.ReadWrite, options);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException($"{path}: permission denied ({ex.Message})", ex);
        }
        try
        {
            bool isBlock = TryGetBlockDeviceSize(handle, out long blockSize);
            long size = isBlock ? blockSize : RandomAccess.GetLength(handle);
            return new DeviceFile(path, handle, size, isBlock, access != FileAccess.Read);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads exactly <c>buffer.Length</c> bytes at <paramref name="offset"/>; a short read is an error.</summary>
    public void ReadExactly(long offset, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(Handle, buffer[done..], offset + done);
            if (n == 0)
                throw new EndOfStreamException(
                    $"{Path}: short read at byte {offset + done}: wanted {buffer.Length - done} more bytes, the device ends at {Size}");
            done += n;
        }
    }

    /// <summary>Async variant of <see cref="ReadExactly"/>.</summary>
    public async ValueTask ReadExactlyAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await RandomAccess.ReadAsync(Handle, buffer[done..], offset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new EndOfStreamException(
                    $"{Path}: short read at byte {offset + done}: wanted {buffer.Length - done} more bytes, the device ends at {Size}");
            done += n;
        }
    }

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>, refusing to pass the device's end.</summary>
    public void WriteAll(long offset, ReadOnlySpan<byte> data)
    {
        CheckWriteRange(offset, data.Length);
        // RandomAccess.Write loops over partial writes internally and throws on error (ENOSPC, EIO).
        RandomAccess.Write(Handle, data, offset);
    }

    public ValueTask WriteAllAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckWriteRange(offset, data.Length);
        return RandomAccess.WriteAsync(Handle, data, offset, cancellationToken);
    }

    private void CheckWriteRange(long offset, int length)
    {
        if (!IsWritable) throw new InvalidOperationException($"{Path} is open read-only");
        if (offset < 0 || offset + length > Size)
            throw new IOException($"{Path}: refusing to write {length} bytes at {offset}: past the end of the device ({Size} bytes)");
    }

    /// <summary>Flushes data to stable storage (fsync); errors surface as <see cref="IOException"/>.</summary>
    public void Flush()
    {
        if (fsync(Handle.DangerousGetHandle().ToInt32()) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{Path}: fsync failed: {new Win32Exception(errno).Message} (errno {errno})");
        }
    }

    public void Dispose() => Handle.Dispose();

    /// <summary>Size of a path (file or block device) without keeping it open.</summary>
    public static long GetSize(string path)
    {
        using var d = OpenRead(path);
        return d.Size;
    }

    private static bool TryGetBlockDeviceSize(SafeFileHandle handle, out long size)
    {
        ulong value = 0;
        int rc = ioctl(handle.DangerousGetHandle().ToInt32(), BlkGetSize64, ref value);
        size = (long)value;
        return rc == 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, uint request, ref ulong value);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
