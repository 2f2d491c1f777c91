using System.Globalization;
using System.Text.RegularExpressions;

namespace BlockSwarm.Clonezilla.Tests;

/// <summary>What every refusal of a bad image must say: the file, and the byte offset where it went wrong.</summary>
internal static partial class FormatErrors
{
    [GeneratedRegex(@"byte offset (?<offset>\d+) of the (?<stream>compressed|partclone) stream")]
    private static partial Regex Offset();

    /// <summary>
    /// Asserts <paramref name="ex"/>'s message starts with <paramref name="file"/> and names a byte offset (of the
    /// <paramref name="stream"/> stream, "compressed" or "partclone", when given); returns the first offset named.
    /// </summary>
    public static long AssertNamesFileAndOffset(ClonezillaFormatException ex, string file, string? stream = null)
    {
        Assert.StartsWith(file, ex.Message, StringComparison.Ordinal);
        var match = Offset().Matches(ex.Message).FirstOrDefault(m => stream is null || m.Groups["stream"].Value == stream);
        Assert.True(match is not null, $"no byte offset{(stream is null ? "" : $" of the {stream} stream")} in: {ex.Message}");
        return long.Parse(match.Groups["offset"].Value, CultureInfo.InvariantCulture);
    }
}
