using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Deploy.Client;

/// <summary>The target failed a safety check; nothing was written.</summary>
public sealed class TargetRefusedException(string message) : Exception(message);

/// <summary>What the checks found out about a target.</summary>
public sealed record TargetInfo(string Path, string ResolvedPath, bool IsBlockDevice, long Size, string? DeviceName);

/// <summary>
/// Safety checks before a single byte is written: the target exists, is a block device (or an
/// image file when explicitly allowed), is not mounted, not used as swap, not held by device
/// mapper/RAID/LVM, is not the disk the running system lives on, and is large enough.
/// Reads <c>/proc</c> and <c>/sys</c> through a root that tests can point elsewhere.
/// </summary>
public sealed class TargetGuard
{
    public TargetGuard(string procRoot = "/proc", string sysRoot = "/sys")
    {
        ProcRoot = procRoot;
        SysRoot = sysRoot;
    }

    public string ProcRoot { get; }
    public string SysRoot { get; }

    public TargetInfo Check(string path, long requiredSize, bool allowFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path)) throw new TargetRefusedException($"{path} is a directory, not a block device");
        if (!File.Exists(path)) throw new TargetRefusedException($"{path} does not exist");
        string resolved = ResolveLinks(path);
        bool isBlock;
        long size;
        try
        {
            using var dev = DeviceFile.OpenRead(resolved);
            isBlock = dev.IsBlockDevice;
            size = dev.Size;
        }
        catch (IOException ex)
        {
            throw new TargetRefusedException($"{path}: cannot open: {ex.Message}");
        }
        if (!isBlock)
        {
            if (!allowFile)
                throw new TargetRefusedException($"{path} is a regular file, not a block device; pass --allow-file to deploy into an image file");
            if (size < requiredSize)
                throw new TargetRefusedException($"{path} has {size} bytes but the image needs {requiredSize}");
            return new TargetInfo(path, resolved, false, size, null);
        }

        string name = Path.GetFileName(resolved);
        string? sysDir = FindSysBlock(name)
            ?? throw new TargetRefusedException($"{path}: block device {name} not found under {SysRoot}/class/block");
        var devNumbers = new HashSet<string>(StringComparer.Ordinal);
        var names = new List<string> { name };
        devNumbers.Add(ReadDevNumber(sysDir));
        foreach (var part in Partitions(sysDir))
        {
            names.Add(Path.GetFileName(part));
            devNumbers.Add(ReadDevNumber(part));
        }

        // Mounted: the device or any of its partitions is the source of a mount.
        foreach (var (devNo, mountPoint) in Mounts())
            if (devNumbers.Contains(devNo))
                throw new TargetRefusedException($"{path} (or a partition of it) is mounted at {mountPoint}; unmount it first");

        // Swap on it.
        var swaps = Path.Combine(ProcRoot, "swaps");
        if (File.Exists(swaps))
        {
            foreach (var line in File.ReadLines(swaps).Skip(1))
            {
                var dev = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
                if (dev != null && names.Contains(Path.GetFileName(ResolveLinks(dev))))
                    throw new TargetRefusedException($"{path}: {dev} is in use as swap; swapoff it first");
            }
        }

        // Held by device mapper, md RAID, LVM, dm-crypt, or partitions in use by the kernel.
        foreach (var dir in new[] { sysDir }.Concat(Partitions(sysDir)))
        {
            var holders = Path.Combine(dir, "holders");
            if (Directory.Exists(holders) && Directory.EnumerateFileSystemEntries(holders).Any())
                throw new TargetRefusedException(
                    $"{path}: {Path.GetFileName(dir)} is in use by {string.Join(", ", Directory.EnumerateFileSystemEntries(holders).Select(Path.GetFileName))} (LVM, RAID or dm-crypt)");
        }

        // The system disk: whatever the root filesystem sits on, through dm/md layers down to disks.
        var systemDisks = SystemDisks();
        if (systemDisks.Overlaps(names))
            throw new TargetRefusedException($"{path} holds the running system's root filesystem; refusing to overwrite it");

        if (size < requiredSize)
            throw new TargetRefusedException($"{path} has {size} bytes but the image needs {requiredSize}");
        return new TargetInfo(path, resolved, true, size, name);
    }

    /// <summary>What <c>--target auto</c> means: the one internal disk of this machine.</summary>
    public const string Auto = "auto";

    /// <summary>
    /// Picks the one internal disk for <c>--target auto</c> (a netboot client that does not know its disk's name):
    /// whole disks under <c>/sys/block</c> that are not virtual (loop, ram, zram, device mapper, md), not optical or
    /// floppy, not removable, not on USB (the stick the machine may have booted from), not empty and not the running
    /// system's disk. Exactly one must remain; none or several is a refusal that names what was found, so the
    /// operator can pass <c>--target /dev/NAME</c> (or <c>blockswarm.target=</c> on the kernel command line).
    /// </summary>
    public string FindInternalDisk(string devRoot = "/dev")
    {
        var block = Path.Combine(SysRoot, "block");
        if (!Directory.Exists(block)) throw new TargetRefusedException($"--target auto: {block} does not exist; pass --target /dev/DISK");
        var systemDisks = SystemDisks();
        var candidates = new List<(string Name, long Bytes)>();
        var skipped = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(block).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(entry);
            string real = ResolveDir(entry).Replace('\\', '/');
            string? why = name switch
            {
                _ when name.StartsWith("loop", StringComparison.Ordinal) || name.StartsWith("ram", StringComparison.Ordinal)
                    || name.StartsWith("zram", StringComparison.Ordinal) || name.StartsWith("dm-", StringComparison.Ordinal)
                    || name.StartsWith("md", StringComparison.Ordinal) || name.StartsWith("nbd", StringComparison.Ordinal)
                    || real.Contains("/devices/virtual/", StringComparison.Ordinal) => "virtual",
                _ when name.StartsWith("sr", StringComparison.Ordinal) || name.StartsWith("fd", StringComparison.Ordinal) => "optical or floppy",
                _ when name.Contains("boot", StringComparison.Ordinal) || name.Contains("rpmb", StringComparison.Ordinal) => "eMMC boot area",
                _ when ReadTrimmed(entry, "removable") == "1" => "removable",
                _ when real.Contains("/usb", StringComparison.Ordinal) => "on USB",
                _ when systemDisks.Contains(name) => "the running system's disk",
                _ => null,
            };
            long sectors = long.TryParse(ReadTrimmed(entry, "size"), out var s) ? s : 0;
            if (why is null && sectors == 0) why = "empty (no medium)";
            if (why is null) candidates.Add((name, sectors * 512));
            else if (why is not "virtual") skipped.Add($"{name} ({why})");
        }
        string Others() => skipped.Count == 0 ? "" : $"; not considered: {string.Join(", ", skipped)}";
        return candidates.Count switch
        {
            1 => Path.Combine(devRoot, candidates[0].Name),
            0 => throw new TargetRefusedException($"--target auto: no internal disk found{Others()}; pass --target /dev/DISK"),
            _ => throw new TargetRefusedException(
                $"--target auto: {candidates.Count} internal disks, refusing to guess: {string.Join(", ", candidates.Select(c => $"{c.Name} ({c.Bytes} bytes)"))}; pass --target /dev/DISK"),
        };
    }

    private static string? ReadTrimmed(string dir, string file)
    {
        var f = Path.Combine(dir, file);
        return File.Exists(f) ? File.ReadAllText(f).Trim() : null;
    }

    private static string ResolveLinks(string path)
    {
        var full = Path.GetFullPath(path);
        for (int i = 0; i < 40; i++)
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is null) return full;
            full = Path.GetFullPath(info.LinkTarget, Path.GetDirectoryName(full)!);
        }
        throw new TargetRefusedException($"{path}: too many levels of symbolic links");
    }

    private string? FindSysBlock(string name)
    {
        var d = Path.Combine(SysRoot, "class", "block", name);
        return Directory.Exists(d) ? ResolveDir(d) : null;
    }

    private static string ResolveDir(string d)
    {
        var info = new DirectoryInfo(d);
        return info.LinkTarget is { } t ? Path.GetFullPath(t, Path.GetDirectoryName(d)!) : d;
    }

    private static string ReadDevNumber(string sysDir) => ReadTrimmed(sysDir, "dev") ?? "";

    /// <summary>Partition subdirectories (they have a <c>partition</c> file).</summary>
    private static IEnumerable<string> Partitions(string sysDir) =>
        Directory.Exists(sysDir)
            ? Directory.EnumerateDirectories(sysDir).Where(d => File.Exists(Path.Combine(d, "partition")))
            : [];

    /// <summary>(major:minor, mount point) of every mount, from mountinfo.</summary>
    private IEnumerable<(string Dev, string MountPoint)> Mounts()
    {
        var f = Path.Combine(ProcRoot, "self", "mountinfo");
        if (!File.Exists(f)) yield break;
        foreach (var line in File.ReadLines(f))
        {
            var parts = line.Split(' ');
            if (parts.Length > 4) yield return (parts[2], parts[4]);
        }
    }

    /// <summary>Names of the block devices under the root filesystem (the device, its disk, and dm/md slaves, recursively).</summary>
    private HashSet<string> SystemDisks()
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        string? rootDev = Mounts().Where(m => m.MountPoint == "/").Select(m => m.Dev).LastOrDefault();
        if (rootDev is null) return result;
        var byDev = Path.Combine(SysRoot, "dev", "block", rootDev);
        if (!Directory.Exists(byDev)) return result;
        var pending = new Stack<string>();
        pending.Push(ResolveDir(byDev));
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            if (!result.Add(Path.GetFileName(dir))) continue;
            // A partition's parent directory is its disk.
            if (File.Exists(Path.Combine(dir, "partition")))
                pending.Push(Path.GetDirectoryName(dir)!);
            var slaves = Path.Combine(dir, "slaves");
            if (Directory.Exists(slaves))
                foreach (var s in Directory.EnumerateFileSystemEntries(slaves))
                    pending.Push(ResolveDir(s));
        }
        return result;
    }
}
