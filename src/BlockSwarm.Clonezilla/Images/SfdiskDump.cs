using System.Globalization;
using System.Text.RegularExpressions;

namespace BlockSwarm.Clonezilla;

/// <summary>One partition line of an sfdisk dump: <c>/dev/sda1 : start= 2048, size= 49152, type=83, bootable</c>.</summary>
internal sealed record SfdiskEntry(string Name, int Number, long Start, long Size, string Type, bool Bootable, int Line);

/// <summary>
/// <c>&lt;disk&gt;-pt.sf</c>, the output of <c>sfdisk -d</c> that restoredisk feeds back to sfdisk: a header of
/// <c>key: value</c> lines (label, label-id, device, unit, first-lba, last-lba, sector-size, table-length…), a blank
/// line, then one line per partition. Anything else is a <see cref="ClonezillaFormatException"/> naming file and line.
/// </summary>
internal sealed partial class SfdiskDump
{
    private SfdiskDump(string file, IReadOnlyDictionary<string, string> header, IReadOnlyList<SfdiskEntry> entries)
    {
        File = file;
        Header = header;
        Entries = entries;
    }

    public string File { get; }
    public IReadOnlyDictionary<string, string> Header { get; }
    public IReadOnlyList<SfdiskEntry> Entries { get; }

    public string Label => Header.TryGetValue("label", out var l) ? l : "";

    public int SectorSize => Header.TryGetValue("sector-size", out var s) && int.TryParse(s, CultureInfo.InvariantCulture, out var n) ? n : 512;

    public long? LastLba => Header.TryGetValue("last-lba", out var s) && long.TryParse(s, CultureInfo.InvariantCulture, out var n) ? n : null;

    [GeneratedRegex(@"^(?<dev>\S+)\s*:\s*(?<fields>.*)$")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"(?<num>\d+)$")]
    private static partial Regex TrailingNumber();

    public static SfdiskDump Load(string file)
    {
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SfdiskEntry>();
        var lines = System.IO.File.ReadAllLines(file);
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var m = EntryLine().Match(line);
            if (line.StartsWith('/') && m.Success)
            {
                entries.Add(ParseEntry(file, i + 1, m.Groups["dev"].Value, m.Groups["fields"].Value));
                continue;
            }
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || entries.Count > 0) throw Bad(file, i + 1, $"cannot parse '{line}'");
            header[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var dump = new SfdiskDump(file, header, entries);
        if (dump.Label is not ("dos" or "gpt"))
            throw new ClonezillaFormatException($"{file}: partition table label '{dump.Label}' is neither dos nor gpt");
        if (header.TryGetValue("unit", out var unit) && unit != "sectors")
            throw new ClonezillaFormatException($"{file}: unit '{unit}' is not sectors");
        if (entries.Count == 0) throw new ClonezillaFormatException($"{file}: no partitions");
        return dump;
    }

    private static SfdiskEntry ParseEntry(string file, int line, string device, string fields)
    {
        long? start = null, size = null;
        string type = "";
        bool bootable = false;
        foreach (var field in SplitFields(fields))
        {
            int eq = field.IndexOf('=', StringComparison.Ordinal);
            var key = (eq < 0 ? field : field[..eq]).Trim();
            var value = eq < 0 ? "" : field[(eq + 1)..].Trim();
            switch (key)
            {
                case "start": start = Number(file, line, key, value); break;
                case "size": size = Number(file, line, key, value); break;
                case "type" or "Id": type = value; break;
                case "bootable": bootable = true; break;
            }
        }
        if (start is null || size is null) throw Bad(file, line, $"{device} has no start or size");
        var name = device.StartsWith("/dev/", StringComparison.Ordinal) ? device[5..] : device;
        var num = TrailingNumber().Match(name);
        if (!num.Success) throw Bad(file, line, $"{device} has no partition number");
        return new SfdiskEntry(name, int.Parse(num.Value, CultureInfo.InvariantCulture), start.Value, size.Value, type, bootable, line);
    }

    private static long Number(string file, int line, string key, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n : throw Bad(file, line, $"{key}={value} is not a sector count");

    /// <summary>Splits on commas outside double quotes (names and attributes are quoted and may hold commas).</summary>
    private static IEnumerable<string> SplitFields(string fields)
    {
        int from = 0;
        bool quoted = false;
        for (int i = 0; i < fields.Length; i++)
        {
            if (fields[i] == '"') quoted = !quoted;
            else if (fields[i] == ',' && !quoted)
            {
                yield return fields[from..i];
                from = i + 1;
            }
        }
        if (from < fields.Length) yield return fields[from..];
    }

    private static ClonezillaFormatException Bad(string file, int line, string what) => new($"{file} line {line}: {what}");
}
