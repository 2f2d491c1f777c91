namespace BlockSwarm.Testing;

/// <summary>
/// Names of what a test needs from the machine, for <see cref="RequiresAttribute"/> and <see cref="Requires"/>. Any
/// other name is an executable that must be on PATH (<c>mkfs.ntfs</c>, <c>partclone.extfs</c>, <c>aria2c</c>, …).
/// </summary>
public static class Need
{
    public const string Root = "root";

    /// <summary>A loop device can be attached here (root, losetup, a free /dev/loopN: containers often have none).</summary>
    public const string LoopDevice = "loop-device";

    /// <summary>Network namespaces joined by veth pairs can be made here (root, iproute2, kernel support).</summary>
    public const string NetworkNamespaces = "netns";

    /// <summary>Debian's python3 with the libtorrent module (python3-libtorrent).</summary>
    public const string PythonLibtorrent = "python3-libtorrent";

    /// <summary>Debian's python3 with gRPC and its code generator (python3-grpcio, python3-grpc-tools): a gRPC client that is not ours.</summary>
    public const string PythonGrpc = "python3-grpc";

    /// <summary>/dev/shm is a tmpfs (every Linux with a standard /dev): targets there are written buffered by default.</summary>
    public const string Tmpfs = "tmpfs";

    /// <summary>
    /// The temp directory's file system takes O_DIRECT writes (ext4, XFS, as on CI; not tmpfs, whose files live in the
    /// page cache itself): image files in a <see cref="TempDirectory"/> are then written with O_DIRECT by default.
    /// </summary>
    public const string DirectIO = "direct-io";

    /// <summary>Hardware virtualisation. Optional: CI machines may lack it, so a missing /dev/kvm skips even in CI.</summary>
    public const string Kvm = "kvm";

    /// <summary>
    /// TAP devices (/dev/net/tun) for virtual machines' NICs. Optional: a container without the device cannot run the
    /// PXE test, so a missing one skips even in CI, with this reason.
    /// </summary>
    public const string Tap = "tap";

    /// <summary>Needs that CI cannot be expected to provide: missing, they skip even when CI=true.</summary>
    public static bool IsOptional(string need) => need is Kvm or Tap;
}
