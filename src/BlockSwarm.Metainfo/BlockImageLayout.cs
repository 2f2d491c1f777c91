using System.Collections.Immutable;
using System.Globalization;
using BlockSwarm.Imaging;
using BlockSwarm.Devices;

namespace BlockSwarm.Metainfo;

/// <summary>
/// The block-image view of a torrent (EZIO/Clonezilla layout): every file is one run of used
/// bytes, named by its byte offset on the device in hex (32 digits as partclone writes them;
/// 16 accepted). Maps piece-stream ranges to device slices with a binary search.
/// </summary>
public sealed class BlockImageLayout
{
    private BlockImageLayout(Torrent torrent, BlockMap map)
    {
        Torrent = torrent;
        Map = map;
        Stream = new ExtentStream(map.Extents);
    }

    public Torrent Torrent { get; }

    /// <summary>The extents in file order (exactly as the torrent lists them).</summary>
    public BlockMap Map { get; }

    /// <summary>Bytes of device the layout needs: the end of its last extent.</summary>
    public long RequiredDeviceSize => Map.Extents.Length == 0 ? 0 : Map.Extents[^1].End;

    /// <summary>
    /// Builds the view, rejecting file names that are not hex offsets, zero-length or
    /// overlapping or out-of-order extents, and — when <paramref name="deviceSize"/> is given —
    /// extents that end past it. Nothing is written before this passes.
    /// </summary>
    public static BlockImageLayout Create(Torrent torrent, long? deviceSize = null)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        if (!torrent.IsMultiFile)
            throw new TorrentException($"'{torrent.Name}' is a single-file torrent, not a block image (files named by hex device offset)");
        var extents = new List<Extent>(torrent.Files.Length);
        for (int i = 0; i < torrent.Files.Length; i++)
        {
            var f = torrent.Files[i];
            if (f.Path.Count != 1)
                throw new TorrentException($"file #{i} '{f.PathString}' is not a block-image file: expected one path component, a hex device offset");
            if (!TryParseHexOffset(f.Path[0], out long offset))
                throw new TorrentException($"file #{i} '{f.Path[0]}' is not a block-image file name: expected 32 (or 16) hex digits");
            if (f.Length == 0)
                throw new TorrentException($"file #{i} '{f.Path[0]}' has length 0");
            extents.Add(new Extent(offset, f.Length));
        }
        long end = extents.Count == 0 ? 0 : extents[^1].End;
        BlockMap map;
        try
        {
            map = BlockMap.FromExtents(deviceSize ?? Math.Max(end, MaxEnd(extents)), 1, extents);
        }
        catch (BlockMapException ex)
        {
            throw new TorrentException($"block image '{torrent.Name}': {ex.Message}", ex);
        }
        return new BlockImageLayout(torrent, map);
    }

    /// <summary>True when the torrent looks like a block image (every file a single hex-offset component).</summary>
    public static bool IsBlockImage(Torrent torrent) =>
        torrent.IsMultiFile && torrent.Files.All(f => f.Path.Count == 1 && TryParseHexOffset(f.Path[0], out _));

    private static long MaxEnd(List<Extent> extents)
    {
        long m = 0;
        foreach (var e in extents) m = Math.Max(m, e.Offset > long.MaxValue - e.Length ? long.MaxValue : e.End);
        return m;
    }

    /// <summary>Parses a 32- or 16-digit hex offset; the value must fit a signed 64-bit offset.</summary>
    public static bool TryParseHexOffset(string name, out long offset)
    {
        offset = 0;
        if (name.Length != 32 && name.Length != 16) return false;
        foreach (char c in name)
            if (!char.IsAsciiHexDigit(c)) return false;
        var digits = name.AsSpan();
        if (digits.Length == 32)
        {
            // The high 16 digits must be zero for a 64-bit offset.
            foreach (char c in digits[..16])
                if (c != '0') return false;
            digits = digits[16..];
        }
        if (!ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v) || v > long.MaxValue)
            return false;
        offset = (long)v;
        return true;
    }

    /// <summary>32 lowercase zero-padded hex digits, as partclone names its block files.</summary>
    public static string FormatHexOffset(long offset) => offset.ToString("x32", CultureInfo.InvariantCulture);

    /// <summary>The piece stream over the device.</summary>
    public ExtentStream Stream { get; }

    /// <summary>Device slices covering stream bytes [streamOffset, +length), in stream order.</summary>
    public void MapRange(long streamOffset, int length, List<DeviceSlice> into) => Stream.MapRange(streamOffset, length, into);

    /// <summary>Device slices of one piece (or part of it).</summary>
    public void MapPiece(int piece, int offsetInPiece, int length, List<DeviceSlice> into) =>
        MapRange((long)piece * Torrent.PieceLength + offsetInPiece, length, into);

    public ImmutableArray<Extent> Extents => Map.Extents;

    /// <summary>
    /// The first device offset inside the layout's extents where <paramref name="target"/> differs from
    /// <paramref name="source"/>, or null when every used byte matches (bytes outside the extents are not compared).
    /// </summary>
    public long? FirstDifference(string source, string target)
    {
        using var a = DeviceFile.OpenRead(source);
        using var b = DeviceFile.OpenRead(target);
        var x = new byte[4 << 20];
        var y = new byte[4 << 20];
        foreach (var e in Extents)
        {
            for (long off = e.Offset; off < e.End; off += x.Length)
            {
                int n = (int)Math.Min(x.Length, e.End - off);
                a.ReadExactly(off, x.AsSpan(0, n));
                b.ReadExactly(off, y.AsSpan(0, n));
                int i = x.AsSpan(0, n).CommonPrefixLength(y.AsSpan(0, n));
                if (i < n) return off + i;
            }
        }
        return null;
    }
}
