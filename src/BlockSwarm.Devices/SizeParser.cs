using System.Globalization;

namespace BlockSwarm.Devices;

/// <summary>Parses byte sizes such as "512", "64k", "16MiB", "2G", "1.5GiB" (binary units; "MB" is also taken as MiB).</summary>
public static class SizeParser
{
    public static long Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
            throw new FormatException($"'{text}' is not a size (examples: 4096, 64k, 16MiB, 2G)");
        var unit = s[i..].Trim().ToUpperInvariant();
        long mult = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => throw new FormatException($"'{text}': unknown unit '{s[i..]}' (use k, M, G, T)"),
        };
        double bytes = number * mult;
        if (bytes > long.MaxValue) throw new FormatException($"'{text}' is too large");
        return (long)bytes;
    }

    /// <summary>Formats with binary units, e.g. "16.0 MiB".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {units[u]}");
    }
}
