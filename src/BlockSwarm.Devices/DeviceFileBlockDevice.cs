
namespace BlockSwarm.Devices;

/// <summary>An <see cref="IBlockDevice"/> over a <see cref="DeviceFile"/> (block device or image file).</summary>
public sealed class DeviceFileBlockDevice : IBlockDevice
{
    private readonly bool _ownsFile;

    public DeviceFileBlockDevice(DeviceFile file, bool ownsFile = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        File = file;
        _ownsFile = ownsFile;
    }

    public DeviceFile File { get; }
    public string Name => File.Path;
    public long Size => File.Size;
    public bool CanWrite => File.IsWritable;

    public void Read(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        CheckRange(offset, PositionalIO.TotalLength(buffers), "read");
        PositionalIO.ReadExactly(File.Handle, Name, offset, buffers);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        if (!CanWrite) throw new InvalidOperationException($"{Name} is open read-only");
        CheckRange(offset, PositionalIO.TotalLength(buffers), "write");
        PositionalIO.WriteAll(File.Handle, offset, buffers);
    }

    public void Flush() => File.Flush();

    private void CheckRange(long offset, long length, string what)
    {
        // Writing past a block device's end returns a short count then ENOSPC; refuse up front.
        if (offset < 0 || offset > Size - length)
            throw new IOException($"{Name}: refusing to {what} {length} bytes at {offset}: past the end of the device ({Size} bytes)");
    }

    public void Dispose()
    {
        if (_ownsFile) File.Dispose();
    }
}
