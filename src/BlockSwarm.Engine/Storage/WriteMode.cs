namespace BlockSwarm.Engine.Storage;

/// <summary>How a <see cref="DeviceStorage"/> opened for writing writes its device or image file (<c>--write-mode</c>).</summary>
public enum WriteMode
{
    /// <summary>
    /// O_DIRECT where the target takes it, buffered where it does not (tmpfs and ramfs, a file system that refuses
    /// O_DIRECT or reports no alignment for it, an alignment the writer cannot use, a direct write the kernel refuses):
    /// one log line names the target and why. The default: past the page cache is the fastest safe way onto a disk.
    /// </summary>
    Auto,

    /// <summary>O_DIRECT or nothing: a target that does not take it fails to open, with the path and why.</summary>
    Direct,

    /// <summary>Through the page cache, as plain files always are (the kernel writes behind; fsync at the end).</summary>
    Buffered,
}
