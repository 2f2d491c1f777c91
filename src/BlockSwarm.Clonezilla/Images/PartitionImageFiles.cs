using System.Text.RegularExpressions;
using BlockSwarm.Clonezilla.Compression;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// Finds a partition's image among the directory's files, as restoredisk does (<c>is_partclone_image</c>,
/// <c>is_dd_image</c>, <c>get_image_cat_zip_cmd</c>): <c>&lt;part&gt;.&lt;fs&gt;-ptcl-img.&lt;comp&gt;</c> whole or split by
/// <c>split -a 2</c> into <c>.aa</c>, <c>.ab</c>…; the legacy raw <c>&lt;part&gt;.dd-img[.aa…]</c>. Images BlockSwarm cannot
/// read (ntfsclone, partimage, partclone's pre-2.x names) and unknown file systems or compressions are refused by name.
/// </summary>
internal static partial class PartitionImageFiles
{
    /// <summary>drbl-ocs.conf's <c>partclone_support_fs</c>: the file systems savedisk hands to partclone.</summary>
    public static readonly IReadOnlySet<string> FileSystems = new HashSet<string>(StringComparer.Ordinal)
    {
        "apfs", "hfs+", "hfsplus", "reiser4", "reiserfs", "xfs", "jfs", "ext2", "ext3", "ext4", "ext4dev", "fat12", "fat16",
        "fat32", "vfat", "ntfs", "ufs", "btrfs", "exfat", "minix", "vmfs3", "vmfs5", "f2fs", "nilfs2", "dd",
    };

    [GeneratedRegex(@"^(?<fs>[A-Za-z0-9+]+)-ptcl-img\.(?<comp>[A-Za-z0-9]+)(\.(?<piece>[a-z]{2,}))?$")]
    private static partial Regex Partclone();

    [GeneratedRegex(@"^dd-img(\.(?<piece>[a-z]{2,}))?$")]
    private static partial Regex LegacyDd();

    [GeneratedRegex(@"^(?<fs>[A-Za-z0-9+]+)-img(\.(?<piece>[a-z]{2,}))?$")]
    private static partial Regex OldFormat();

    /// <summary>The image of <paramref name="partition"/> (a name like <c>sda1</c>), or null when the directory holds none.</summary>
    public static ClonezillaPartitionImage? Find(string directory, string partition)
    {
        var prefix = ToFileName(partition) + ".";
        var found = new Dictionary<string, (ClonezillaContentKind Kind, string Fs, ClonezillaCompression Comp, List<(string Piece, string Path)> Files)>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(directory, prefix + "*"))
        {
            var rest = Path.GetFileName(path)[prefix.Length..];
            if (Partclone().Match(rest) is { Success: true } m)
            {
                var fs = m.Groups["fs"].Value;
                if (!FileSystems.Contains(fs))
                    throw new ClonezillaFormatException($"{path}: unknown file system '{fs}' (partclone's are {string.Join(", ", FileSystems)})");
                var suffix = m.Groups["comp"].Value;
                var comp = CompressionSuffix.Parse(suffix, path);
                Add(found, $"{fs}-ptcl-img.{suffix}", fs == "dd" ? ClonezillaContentKind.Dd : ClonezillaContentKind.Partclone, fs, comp, m.Groups["piece"].Value, path);
            }
            else if (LegacyDd().Match(rest) is { Success: true } d)
            {
                // savedisk's old dd path always piped through gzip and named the files without a suffix.
                Add(found, "dd-img", ClonezillaContentKind.Dd, "dd", ClonezillaCompression.Gzip, d.Groups["piece"].Value, path);
            }
            else if (rest.StartsWith("ntfs-img", StringComparison.Ordinal))
                throw new ClonezillaFormatException($"{path}: saved by ntfsclone (-q), which BlockSwarm does not read; save the partition with partclone (-q2)");
            else if (OldFormat().IsMatch(rest))
                throw new ClonezillaFormatException($"{path}: a partclone image in Clonezilla's old naming (before -q2 became the default); convert it with Clonezilla first");
            else if (rest is "000" or "aa" || rest.StartsWith("000", StringComparison.Ordinal))
                throw new ClonezillaFormatException($"{path}: saved by partimage, which BlockSwarm does not read");
        }
        if (found.Count == 0) return null;
        if (found.Count > 1)
            throw new ClonezillaFormatException($"{directory}: partition {partition} has more than one image ({string.Join(", ", found.Keys.Order(StringComparer.Ordinal))})");
        var image = found.Values.Single();
        return new ClonezillaPartitionImage(image.Kind, image.Fs, image.Comp, Ordered(directory, partition, image.Files));
    }

    private static void Add(Dictionary<string, (ClonezillaContentKind, string, ClonezillaCompression, List<(string, string)>)> found, string key,
        ClonezillaContentKind kind, string fs, ClonezillaCompression comp, string piece, string path)
    {
        if (!found.TryGetValue(key, out var entry)) found[key] = entry = (kind, fs, comp, new List<(string, string)>());
        entry.Item4.Add((piece, path));
    }

    /// <summary>
    /// The files in stream order, after checking the set is whole: either one unsplit file or pieces aa, ab, … with no
    /// gap (a missing middle piece), and every piece but the last exactly as long as the first (split -b cuts equal
    /// pieces), as <see cref="SplitFileStream"/> checks a split set.
    /// </summary>
    private static List<string> Ordered(string directory, string partition, List<(string Piece, string Path)> files)
    {
        if (files.Count == 1 && files[0].Piece.Length == 0) return [files[0].Path];
        if (files.Any(f => f.Piece.Length == 0))
            throw new ClonezillaFormatException($"{directory}: partition {partition} has both an unsplit image and split pieces");
        int width = files[0].Piece.Length;
        if (files.Any(f => f.Piece.Length != width))
            throw new ClonezillaFormatException($"{directory}: partition {partition}'s split pieces have suffixes of different lengths");
        return [.. SplitFileStream.FindSet(files[0].Path[..^width], width).Paths];
    }

    /// <summary>Clonezilla's <c>to_filename</c>: a device path below /dev (cciss/c0d0p1) becomes one file name (cciss-c0d0p1).</summary>
    public static string ToFileName(string device) => device.Replace('/', '-');
}
