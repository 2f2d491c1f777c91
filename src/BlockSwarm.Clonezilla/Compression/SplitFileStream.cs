using System.Globalization;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// The files <c>split -a N -b SIZE - PREFIX.</c> wrote (<c>PREFIX.aa</c>, <c>PREFIX.ab</c>, …, or <c>.aaa</c>… with a
/// longer suffix), read as one seekable stream. Opening checks the set: the suffixes run without a gap (a missing
/// file is named), and every part but the last has the first part's size (split cuts them equal, so a shorter one
/// was cut short). One part is open at a time.
/// </summary>
public sealed class SplitFileStream : Stream
{
    private readonly string[] _paths;
    private readonly long[] _starts;
    private readonly long _length;
    private FileStream? _current;
    private int _currentIndex = -1;
    private long _position;

    private SplitFileStream(string prefix, string[] paths, long[] lengths)
    {
        Prefix = prefix;
        _paths = paths;
        _starts = new long[paths.Length + 1];
        for (int i = 0; i < paths.Length; i++) _starts[i + 1] = _starts[i] + lengths[i];
        _length = _starts[^1];
    }

    /// <summary>The path before the suffix, with its trailing dot: <c>/home/partimag/IMG/sda1.ext4-ptcl-img.zst.</c></summary>
    public string Prefix { get; }

    /// <summary>The parts in order.</summary>
    public IReadOnlyList<string> Paths => _paths;

    /// <summary>A name for messages: <c>…/sda1.ext4-ptcl-img.zst.aa…ac</c> (or the one part).</summary>
    public string Name => _paths.Length == 1 ? _paths[0] : $"{_paths[0]}…{Suffix(_paths[^1])}";

    /// <summary>
    /// True when <paramref name="path"/> names a split part: its last extension is two or more lower-case letters
    /// (<c>.aa</c>, <c>.ab</c>, <c>.aaa</c>) and is not the compression suffix ending an unsplit name (a part may be
    /// called <c>.gz</c> or <c>.xz</c> too, but then a compression suffix comes before it).
    /// </summary>
    public static bool IsPartName(string path) => SplitSuffixLength(Path.GetFileName(path)) > 0;

    /// <summary>
    /// Opens the set that <paramref name="path"/> belongs to: the first part (<c>….aa</c>), any other part, or the
    /// prefix without its dot (<c>sda1.ext4-ptcl-img.zst</c> when only <c>….aa</c>… exist).
    /// </summary>
    public static SplitFileStream Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string file = Path.GetFileName(full);
        int suffixLength = SplitSuffixLength(file);
        string prefix;
        if (suffixLength > 0 && File.Exists(full)) prefix = full[..^suffixLength];
        else
        {
            prefix = full + ".";
            suffixLength = FindSuffixLength(prefix)
                ?? throw new ClonezillaFormatException($"{full}: no such file, and no split parts {prefix}aa, {prefix}aaa, …");
        }
        var (paths, lengths) = FindSet(prefix, suffixLength);
        return new SplitFileStream(prefix, paths, lengths);
    }

    /// <summary>
    /// Opens <paramref name="paths"/>, a split set already found and put in order (a partition's
    /// <see cref="ClonezillaPartitionImage.Files"/>), checking its parts' sizes again: a part may have changed since.
    /// </summary>
    public static SplitFileStream OpenParts(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentOutOfRangeException.ThrowIfZero(paths.Count);
        var all = paths.Select(Path.GetFullPath).ToArray();
        return new SplitFileStream(all[0][..^Suffix(all[0]).Length], all, CheckLengths(all));
    }

    /// <summary>
    /// The parts of the set <paramref name="prefix"/> + <paramref name="suffixLength"/> letters, in order, and their
    /// sizes, checked whole: the first part and every part up to the last one there (a gap is named, with the offset in
    /// the joined stream where it would start), each but the last of the first one's size.
    /// </summary>
    internal static (string[] Paths, long[] Lengths) FindSet(string prefix, int suffixLength)
    {
        string dir = Path.GetDirectoryName(prefix)!;
        string stem = Path.GetFileName(prefix);
        // Every file of this set that exists, by suffix index.
        var present = new SortedDictionary<long, string>();
        foreach (var f in Directory.EnumerateFiles(dir, stem + new string('?', suffixLength)))
        {
            string suffix = Path.GetFileName(f)[stem.Length..];
            if (SuffixIndex(suffix) is { } index) present[index] = f;
        }
        if (present.Count == 0 || !present.ContainsKey(0))
            throw new ClonezillaFormatException($"{prefix}{SuffixAt(0, suffixLength)}: missing: the first split part of {prefix}* is not there (byte offset 0 of the compressed stream)");
        long last = present.Keys.Max();
        var paths = new string[last + 1];
        for (long i = 0; i <= last; i++)
        {
            if (!present.TryGetValue(i, out var p))
                throw new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{prefix}{SuffixAt(i, suffixLength)}: missing: split parts {SuffixAt(0, suffixLength)}…{SuffixAt(last, suffixLength)} of {prefix}* must all be present (it would start at byte offset {i * new FileInfo(paths[0]).Length} of the compressed stream)"));
            paths[i] = p;
        }
        return (paths, CheckLengths(paths));
    }

    /// <summary>The parts' sizes, checked: split cuts every part but the last to the first one's size.</summary>
    private static long[] CheckLengths(string[] paths)
    {
        var lengths = new long[paths.Length];
        for (int i = 0; i < paths.Length; i++)
        {
            var info = new FileInfo(paths[i]);
            if (!info.Exists)
                throw new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{paths[i]}: missing: split part {i + 1} of {paths.Length} (it would start at byte offset {lengths.Take(i).Sum()} of the compressed stream)"));
            lengths[i] = info.Length;
        }
        int last = paths.Length - 1;
        for (int i = 1; i < last; i++)
            if (lengths[i] != lengths[0])
                throw new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{paths[i]}: {lengths[i]} bytes where {paths[0]} has {lengths[0]}: split makes every part but the last the same size, so this one is truncated or was replaced (it ends at byte offset {i * lengths[0] + lengths[i]} of the compressed stream)"));
        if (last > 0 && lengths[last] > lengths[0])
            throw new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{paths[last]}: {lengths[last]} bytes, more than the {lengths[0]} of each part before it: not one split set"));
        return lengths;
    }

    private static int? FindSuffixLength(string prefix)
    {
        for (int n = 2; n <= 6; n++)
            if (File.Exists(prefix + new string('a', n))) return n;
        return null;
    }

    /// <summary>The length of <paramref name="file"/>'s split suffix (letters after the last dot, all a–z, at least two), else 0.</summary>
    private static int SplitSuffixLength(string file)
    {
        int dot = file.LastIndexOf('.');
        if (dot <= 0) return 0;
        var suffix = file.AsSpan(dot + 1);
        if (suffix.Length < 2 || suffix.ContainsAnyExceptInRange('a', 'z')) return 0;
        var before = Path.GetExtension(file.AsSpan(0, dot));
        // "….ext4-ptcl-img.rar" ends in its compression suffix, known or not: a part follows a compression suffix.
        if (before.EndsWith("-img", StringComparison.Ordinal)) return 0;
        // "….zst" ends an unsplit name; "….zst.gz" is part 182 of a split set.
        if (CompressionSuffix.IsClonezillas(suffix) && (before.Length < 2 || !CompressionSuffix.IsClonezillas(before[1..]))) return 0;
        return suffix.Length;
    }

    private static long? SuffixIndex(string suffix)
    {
        long index = 0;
        foreach (char c in suffix)
        {
            if (c is < 'a' or > 'z') return null;
            index = index * 26 + (c - 'a');
        }
        return index;
    }

    private static string SuffixAt(long index, int length)
    {
        var chars = new char[length];
        for (int i = length - 1; i >= 0; i--, index /= 26) chars[i] = (char)('a' + index % 26);
        return new string(chars);
    }

    private static string Suffix(string path) => path[(path.LastIndexOf('.') + 1)..];

    /// <summary>Where <paramref name="position"/> of the joined stream lies: <c>….ab at byte 1234</c>.</summary>
    public string Describe(long position)
    {
        int i = PartAt(Math.Clamp(position, 0, _length));
        return string.Create(CultureInfo.InvariantCulture, $"{_paths[i]} at byte {position - _starts[i]}");
    }

    private int PartAt(long position)
    {
        int i = Array.BinarySearch(_starts, position);
        i = i < 0 ? ~i - 1 : i;
        // A position on a boundary belongs to the part that starts there (the end belongs to the last part).
        return Math.Min(i, _paths.Length - 1);
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length && _position < _length)
        {
            int i = PartAt(_position);
            if (i != _currentIndex)
            {
                _current?.Dispose();
                _current = new FileStream(_paths[i], FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                _currentIndex = i;
            }
            long inPart = _position - _starts[i];
            if (_current!.Position != inPart) _current.Position = inPart;
            int want = (int)Math.Min(buffer.Length - total, _starts[i + 1] - _position);
            int n = _current.Read(buffer.Slice(total, want));
            if (n == 0)
                throw new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{_paths[i]}: ends at byte {inPart}, before the {_starts[i + 1] - _starts[i]} bytes it had when opened (byte offset {_position} of the compressed stream)"));
            total += n;
            _position += n;
        }
        return total;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        long target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        _position = target;
        return target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _current?.Dispose();
        _current = null;
        base.Dispose(disposing);
    }
}
