using System.Globalization;
using System.Text.RegularExpressions;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging;

/// <summary>
/// partclone's <c>torrent.info</c> (written by <c>partclone.&lt;fs&gt; -c -t/-T</c>): <c>block_size:</c>,
/// <c>blocks_total:</c>, <c>offset:</c>/<c>length:</c> pairs in 32-digit hex, and <c>sha1:</c> lines
/// (one per 16 MiB piece) interleaved anywhere. Parsed by pattern, not by position. Extents are
/// kept exactly as listed (partclone cuts runs at its buffer size), so a torrent built from them
/// matches Clonezilla's byte for byte.
/// </summary>
public sealed partial class PartcloneTorrentInfo
{
    private PartcloneTorrentInfo(int blockSize, long blocksTotal, BlockMap map, IReadOnlyList<byte[]> sha1)
    {
        BlockSize = blockSize;
        BlocksTotal = blocksTotal;
        Map = map;
        PieceHashes = sha1;
    }

    public int BlockSize { get; }
    public long BlocksTotal { get; }

    /// <summary>The used extents as listed; DeviceSize = block_size × blocks_total.</summary>
    public BlockMap Map { get; }

    /// <summary>partclone's SHA-1 of each 16 MiB piece over the concatenated used data.</summary>
    public IReadOnlyList<byte[]> PieceHashes { get; }

    /// <summary>partclone hashes in 16 MiB pieces (Clonezilla's piece size).</summary>
    public const int PartclonePieceLength = 16 << 20;

    public static PartcloneTorrentInfo Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BlockMapException($"{path}: cannot read partclone torrent.info: {ex.Message}", ex);
        }
        try
        {
            return Parse(text);
        }
        catch (BlockMapException ex)
        {
            throw new BlockMapException($"{path}: {ex.Message}", ex);
        }
    }

    public static PartcloneTorrentInfo Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int? blockSize = null;
        long? blocksTotal = null;
        var offsets = new List<(long Value, int Line)>();
        var lengths = new List<(long Value, int Line)>();
        var hashes = new List<byte[]>();
        int lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var m = LineRegex().Match(line);
            if (!m.Success)
                throw new BlockMapException($"line {lineNo}: unrecognised torrent.info line '{Truncate(line)}'");
            string key = m.Groups[1].Value, value = m.Groups[2].Value;
            switch (key)
            {
                case "block_size":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int bs) || bs <= 0 || (bs & (bs - 1)) != 0 || bs > (1 << 20))
                        throw new BlockMapException($"line {lineNo}: block_size '{value}' is not a power of two up to 1 MiB");
                    if (blockSize != null) throw new BlockMapException($"line {lineNo}: block_size given twice");
                    blockSize = bs;
                    break;
                case "blocks_total":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long bt) || bt <= 0)
                        throw new BlockMapException($"line {lineNo}: blocks_total '{value}' is not a positive integer");
                    if (blocksTotal != null) throw new BlockMapException($"line {lineNo}: blocks_total given twice");
                    blocksTotal = bt;
                    break;
                case "offset":
                    offsets.Add((ParseHex(value, lineNo, "offset"), lineNo));
                    break;
                case "length":
                    lengths.Add((ParseHex(value, lineNo, "length"), lineNo));
                    break;
                case "sha1":
                    if (value.Length != 40 || !value.All(char.IsAsciiHexDigit))
                        throw new BlockMapException($"line {lineNo}: sha1 '{Truncate(value)}' is not 40 hex digits");
                    hashes.Add(Convert.FromHexString(value));
                    break;
            }
        }
        if (blockSize == null) throw new BlockMapException("no block_size line");
        if (blocksTotal == null) throw new BlockMapException("no blocks_total line");
        if (offsets.Count != lengths.Count)
            throw new BlockMapException($"{offsets.Count} offset lines but {lengths.Count} length lines");
        if (blocksTotal > long.MaxValue / blockSize.Value)
            throw new BlockMapException($"blocks_total {blocksTotal} × block_size {blockSize} overflows");
        long deviceSize = blocksTotal.Value * blockSize.Value;
        var extents = new List<Extent>(offsets.Count);
        for (int i = 0; i < offsets.Count; i++)
        {
            if (lengths[i].Line < offsets[i].Line)
                throw new BlockMapException($"line {lengths[i].Line}: length before its offset line");
            if (lengths[i].Value == 0)
                throw new BlockMapException($"line {lengths[i].Line}: length is zero");
            extents.Add(new Extent(offsets[i].Value, lengths[i].Value));
        }
        BlockMap map;
        try
        {
            map = BlockMap.FromExtents(deviceSize, blockSize.Value, extents);
        }
        catch (BlockMapException ex)
        {
            throw new BlockMapException($"torrent.info extents are invalid (blocks_total × block_size = {deviceSize}): {ex.Message}", ex);
        }
        long expectedHashes = (map.UsedBytes + PartclonePieceLength - 1) / PartclonePieceLength;
        if (hashes.Count != 0 && hashes.Count != expectedHashes)
            throw new BlockMapException($"{hashes.Count} sha1 lines but {map.UsedBytes} used bytes in 16 MiB pieces need {expectedHashes}");
        return new PartcloneTorrentInfo(blockSize.Value, blocksTotal.Value, map, hashes);
    }

    private static long ParseHex(string value, int lineNo, string what)
    {
        if (value.Length == 0 || value.Length > 32 || !value.All(char.IsAsciiHexDigit))
            throw new BlockMapException($"line {lineNo}: {what} '{Truncate(value)}' is not up to 32 hex digits");
        var digits = value.TrimStart('0');
        if (digits.Length > 15 && !(digits.Length == 16 && digits[0] <= '7'))
            throw new BlockMapException($"line {lineNo}: {what} 0x{value} does not fit a 63-bit byte offset");
        return digits.Length == 0 ? 0 : long.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";

    [GeneratedRegex(@"^(block_size|blocks_total|offset|length|sha1):\s*(\S*)\s*$")]
    private static partial Regex LineRegex();
}
