namespace BlockSwarm.Devices;

/// <summary>
/// Positional, parallel-safe I/O on a device address space (a block device, an image file,
/// or a set of files mapped into one address space). The seam where tests inject fakes,
/// count syscalls and fail writes. Implementations check every byte count.
/// </summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Path or description, used in error messages.</summary>
    string Name { get; }

    long Size { get; }

    bool CanWrite { get; }

    /// <summary>Fills every buffer, in order, from <paramref name="offset"/> (one scatter read where possible); a short read throws.</summary>
    void Read(long offset, IReadOnlyList<Memory<byte>> buffers);

    /// <summary>Writes every buffer, in order, from <paramref name="offset"/> (one gather write where possible); anything less throws.</summary>
    void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers);

    /// <summary>fsync: everything written so far reaches stable storage, or this throws.</summary>
    void Flush();
}
