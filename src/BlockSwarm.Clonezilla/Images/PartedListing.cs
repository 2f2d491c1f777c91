using System.Globalization;
using System.Text.RegularExpressions;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// <c>&lt;disk&gt;-pt.parted</c> (<c>parted -s DISK unit s print</c>): the one file that holds the source disk's size
/// (<c>Disk /dev/sda: 262144s</c>), plus the rows restoredisk greps for swap partitions (<c>linux-swap</c>).
/// </summary>
internal sealed partial class PartedListing
{
    public long? DiskSectors { get; private init; }
    public int? SectorSize { get; private init; }
    public IReadOnlySet<int> SwapNumbers { get; private init; } = new HashSet<int>();

    [GeneratedRegex(@"^Disk /dev/\S+:\s*(?<n>\d+)s\s*$")]
    private static partial Regex DiskLine();

    [GeneratedRegex(@"^Sector size \(logical/physical\):\s*(?<n>\d+)B")]
    private static partial Regex SectorLine();

    [GeneratedRegex(@"^\s*(?<num>\d+)\s+\d+s\s")]
    private static partial Regex Row();

    public static PartedListing Load(string file)
    {
        if (!File.Exists(file)) return new PartedListing();
        long? disk = null;
        int? sector = null;
        var swaps = new HashSet<int>();
        foreach (var line in File.ReadLines(file))
        {
            if (DiskLine().Match(line) is { Success: true } d) disk = long.Parse(d.Groups["n"].Value, CultureInfo.InvariantCulture);
            else if (SectorLine().Match(line) is { Success: true } s) sector = int.Parse(s.Groups["n"].Value, CultureInfo.InvariantCulture);
            else if (Row().Match(line) is { Success: true } r && line.Contains("linux-swap", StringComparison.OrdinalIgnoreCase))
                swaps.Add(int.Parse(r.Groups["num"].Value, CultureInfo.InvariantCulture));
        }
        return new PartedListing { DiskSectors = disk, SectorSize = sector, SwapNumbers = swaps };
    }
}
