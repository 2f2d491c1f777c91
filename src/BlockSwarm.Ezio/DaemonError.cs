namespace BlockSwarm.Ezio;

/// <summary>Why the daemon refused a request; the gRPC front maps each to its status code.</summary>
public enum DaemonError
{
    /// <summary>The request itself is wrong: a malformed torrent, an empty save path, a hash that is not 40 hex digits.</summary>
    InvalidArgument,

    /// <summary>The save path, or the torrent named by a hash, does not exist.</summary>
    NotFound,

    /// <summary>The torrent is in the daemon already.</summary>
    AlreadyExists,

    /// <summary>The save path exists but may not be used: mounted, swap, held by LVM/RAID, the system disk, too small.</summary>
    FailedPrecondition,

    /// <summary>The daemon is shutting down.</summary>
    Unavailable,
}
