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

    /// <summary>
    /// Writes every run (runs never overlap), or throws: a failure names the device and its run's offset; other runs
    /// may be on the device by then. By default one after another; a device may write them concurrently
    /// (<see cref="DirectIOBlockDevice"/> keeps several O_DIRECT writes in flight).
    /// </summary>
    void WriteRuns(IReadOnlyList<WriteRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        foreach (var run in runs)
        {
            try
            {
                Write(run.Offset, run.Buffers);
            }
            catch (IOException ex) when (ex is not StorageException)
            {
                // Where it failed is what the operator needs (a bad sector, the end of a too-small disk): say so.
                throw new StorageException($"{Name}: writing {PositionalIO.TotalLength(run.Buffers)} bytes at offset {run.Offset} failed: {ex.Message}", ex);
            }
        }
    }

    /// <summary>fsync: everything written so far reaches stable storage, or this throws.</summary>
    void Flush();
}

/// <summary>One run of a batch of writes: <see cref="Buffers"/> gathered in order from device offset <see cref="Offset"/>.</summary>
public readonly record struct WriteRun(long Offset, IReadOnlyList<ReadOnlyMemory<byte>> Buffers);
