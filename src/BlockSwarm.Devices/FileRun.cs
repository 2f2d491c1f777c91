namespace BlockSwarm.Devices;

/// <summary>
/// A block payload that lives in a file (the seeder's image or device) rather than in memory: the transport hands
/// it to the kernel with <c>sendfile</c>, so the bytes go from the page cache to the socket without the two copies a
/// read into a buffer and a send from it would cost. <see cref="Regions"/> are (file offset, length) runs in payload
/// order; the file stays open for as long as the storage that made the run.
/// </summary>
public sealed class FileRun
{
    public FileRun(FileStream file, IReadOnlyList<(long Offset, int Length)> regions, Action<FileRun, Exception>? onSendFailed = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(regions);
        long total = 0;
        foreach (var (offset, length) in regions)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
            total += length;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(total, int.MaxValue, nameof(regions));
        File = file;
        Regions = regions;
        Length = (int)total;
        OnSendFailed = onSendFailed;
    }

    public FileStream File { get; }
    public IReadOnlyList<(long Offset, int Length)> Regions { get; }

    /// <summary>Payload bytes: the sum of the regions.</summary>
    public int Length { get; }

    /// <summary>
    /// Called when sending the run failed: a socket error and a read error of the file look alike there, so the
    /// owner checks its storage (a failing disk must stop the session loudly, not just drop the peer).
    /// </summary>
    public Action<FileRun, Exception>? OnSendFailed { get; }
}
