using BlockSwarm.Devices;
namespace BlockSwarm.Imaging.FileSystems;

/// <summary>Picks the scanner whose magic is on a volume. Unknown filesystems yield null; the caller chooses a fallback.</summary>
public static class FileSystemDetector
{
    /// <summary>Bytes of a volume's head handed to <see cref="IFileSystemScanner.Probe"/> (XFS and ext keep magic past 1 KiB).</summary>
    public const int HeadBytes = 64 * 1024;

    /// <summary>
    /// Every known scanner, in probe order. NTFS goes before FAT because its boot sector
    /// also carries a jump and 0x55AA (FAT's BPB checks reject it anyway, the order makes it explicit).
    /// </summary>
    public static IReadOnlyList<IFileSystemScanner> Scanners { get; } =
    [
        new NtfsScanner(),
        new FatScanner(),
        new ExtScanner(),
        new XfsScanner(),
    ];

    /// <summary>The first scanner whose probe accepts <paramref name="head"/>, or null.</summary>
    public static IFileSystemScanner? Detect(ReadOnlySpan<byte> head)
    {
        foreach (var s in Scanners)
            if (s.Probe(head)) return s;
        return null;
    }

    /// <summary>Reads up to <see cref="HeadBytes"/> of the volume and probes it.</summary>
    public static IFileSystemScanner? Detect(DeviceFile device, long volumeOffset, long volumeLength)
    {
        ArgumentNullException.ThrowIfNull(device);
        var head = new byte[(int)Math.Min(HeadBytes, Math.Max(0, Math.Min(volumeLength, device.Size - volumeOffset)))];
        device.ReadExactly(volumeOffset, head);
        return Detect(head);
    }

    /// <summary>Finds a scanner by its <see cref="IFileSystemScanner.Name"/> ("vfat", "ntfs", ...), or null.</summary>
    public static IFileSystemScanner? ByName(string name) =>
        Scanners.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}
