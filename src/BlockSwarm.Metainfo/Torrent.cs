using System.Collections.Immutable;
using System.Numerics;
using BlockSwarm.Bencode;

namespace BlockSwarm.Metainfo;

/// <summary>
/// A validated BitTorrent v1 metainfo file (BEP 3, BEP 12 announce-list). The info-hash is
/// the SHA-1 of the raw <c>info</c> bytes as read, never of a re-encoding.
/// </summary>
public sealed class Torrent
{
    /// <summary>Smallest accepted piece length: one 16 KiB request block.</summary>
    public const int MinPieceLength = 16 * 1024;

    /// <summary>Largest accepted piece length; bigger pieces make verification and memory use coarse.</summary>
    public const int MaxPieceLength = 256 * 1024 * 1024;

    private readonly ReadOnlyMemory<byte> _pieceHashes;

    private Torrent(ReadOnlyMemory<byte> raw, BDictionary root, BDictionary info, ReadOnlyMemory<byte> rawInfo, string name,
        int pieceLength, ReadOnlyMemory<byte> pieces, ImmutableArray<TorrentFile> files, bool isMultiFile,
        ImmutableArray<ImmutableArray<string>> trackerTiers)
    {
        Raw = raw;
        Root = root;
        Info = info;
        RawInfo = rawInfo;
        InfoHash = InfoHash.Compute(rawInfo.Span);
        Name = name;
        PieceLength = pieceLength;
        _pieceHashes = pieces;
        Files = files;
        IsMultiFile = isMultiFile;
        TrackerTiers = trackerTiers;
        TotalLength = files.Length == 0 ? 0 : files[^1].StreamEnd;
        PieceCount = pieces.Length / 20;
    }

    /// <summary>The whole .torrent file as read.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    public BDictionary Root { get; }
    public BDictionary Info { get; }

    /// <summary>The raw bytes of the info dictionary (what BEP 9 would serve).</summary>
    public ReadOnlyMemory<byte> RawInfo { get; }

    public InfoHash InfoHash { get; }
    public string Name { get; }
    public int PieceLength { get; }
    public int PieceCount { get; }
    public long TotalLength { get; }
    public ImmutableArray<TorrentFile> Files { get; }
    public bool IsMultiFile { get; }

    /// <summary>Tracker tiers (BEP 12); a lone <c>announce</c> is one tier of one URL.</summary>
    public ImmutableArray<ImmutableArray<string>> TrackerTiers { get; }

    public string? Comment => Root.Get<BString>("comment")?.Text;
    public string? CreatedBy => Root.Get<BString>("created by")?.Text;
    /// <summary>
    /// The optional <c>creation date</c>; null when absent or outside what a <see cref="DateTimeOffset"/>
    /// holds (years 1–9999). It is informational only, so a bogus value does not reject the torrent.
    /// </summary>
    public DateTimeOffset? CreationDate => Root.Get<BInteger>("creation date") is { Value: >= MinUnixSeconds and <= MaxUnixSeconds } d
        ? DateTimeOffset.FromUnixTimeSeconds(d.Value)
        : null;

    private const long MinUnixSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxUnixSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z
    public bool IsPrivate => Info.Get<BInteger>("private")?.Value == 1;

    /// <summary>Length of piece <paramref name="index"/> (the last one may be short).</summary>
    public int GetPieceLength(int index)
    {
        if ((uint)index >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(index), index, $"piece index must be in [0, {PieceCount})");
        return index == PieceCount - 1 ? (int)(TotalLength - (long)index * PieceLength) : PieceLength;
    }

    /// <summary>Every piece's SHA-1, 20 bytes each in piece order (the info dictionary's <c>pieces</c>).</summary>
    public ReadOnlyMemory<byte> PieceHashes => _pieceHashes;

    /// <summary>The expected SHA-1 of piece <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetPieceHash(int index)
    {
        if ((uint)index >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(index), index, $"piece index must be in [0, {PieceCount})");
        return _pieceHashes.Span.Slice(index * 20, 20);
    }

    public static Torrent Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TorrentException($"{path}: cannot read torrent: {ex.Message}", ex);
        }
        try
        {
            return Parse(bytes);
        }
        catch (TorrentException ex)
        {
            throw new TorrentException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Parses and validates a .torrent; throws <see cref="TorrentException"/> naming the problem.</summary>
    public static Torrent Parse(ReadOnlyMemory<byte> data)
    {
        BDictionary root;
        try
        {
            root = BencodeDecoder.DecodeDictionary(data);
        }
        catch (BencodeException ex)
        {
            throw new TorrentException($"not a valid torrent: {ex.Message}", ex);
        }
        try
        {
            return FromRoot(data, root);
        }
        catch (BencodeException ex)
        {
            throw new TorrentException($"invalid torrent: {ex.Message}", ex);
        }
    }

    private static Torrent FromRoot(ReadOnlyMemory<byte> data, BDictionary root)
    {
        var info = root.Require<BDictionary>("info");
        var rawInfo = data[info.SourceRange];

        var name = info.Require<BString>("name").Text;
        if (name.Length == 0) throw new TorrentException("info.name is empty");
        CheckPathComponent(name, "info.name");

        long pl = info.Require<BInteger>("piece length").Value;
        if (pl < MinPieceLength || pl > MaxPieceLength || !BitOperations.IsPow2(pl))
            throw new TorrentException($"piece length {pl} must be a power of two between {MinPieceLength} and {MaxPieceLength}");
        int pieceLength = (int)pl;

        if (!info.TryGetValue("pieces", out var piecesValue))
        {
            if (info.ContainsKey("file tree"))
                throw new TorrentException("v2-only torrents (BEP 52) are not supported: no 'pieces' in info");
            throw new TorrentException("missing required key 'pieces' in info");
        }
        var pieces = (piecesValue as BString ?? throw new TorrentException("info.pieces must be a string")).Bytes;
        if (pieces.Length % 20 != 0)
            throw new TorrentException($"info.pieces is {pieces.Length} bytes, not a multiple of 20");

        var files = ImmutableArray.CreateBuilder<TorrentFile>();
        bool multi;
        if (info.TryGetValue("files", out var filesValue))
        {
            if (info.ContainsKey("length")) throw new TorrentException("info has both 'length' and 'files'");
            multi = true;
            var list = filesValue as BList ?? throw new TorrentException("info.files must be a list");
            if (list.Count == 0) throw new TorrentException("info.files is empty");
            long offset = 0;
            int i = 0;
            foreach (var item in list)
            {
                var f = item as BDictionary ?? throw new TorrentException($"info.files[{i}] is not a dictionary");
                long len = f.Require<BInteger>("length").Value;
                if (len < 0) throw new TorrentException($"info.files[{i}].length is negative ({len})");
                var pathList = f.Require<BList>("path");
                if (pathList.Count == 0) throw new TorrentException($"info.files[{i}].path is empty");
                var parts = new List<string>(pathList.Count);
                foreach (var p in pathList)
                {
                    var s = (p as BString ?? throw new TorrentException($"info.files[{i}].path has a non-string component")).Text;
                    CheckPathComponent(s, $"info.files[{i}].path");
                    parts.Add(s);
                }
                if (offset > long.MaxValue - len) throw new TorrentException("total length overflows");
                files.Add(new TorrentFile(parts, len, offset));
                offset += len;
                i++;
            }
        }
        else
        {
            multi = false;
            long len = info.Require<BInteger>("length").Value;
            if (len < 0) throw new TorrentException($"info.length is negative ({len})");
            files.Add(new TorrentFile([name], len, 0));
        }

        long total = files[^1].StreamEnd;
        if (total == 0) throw new TorrentException("torrent has no data (total length 0)");
        long expectedPieces = (total + pieceLength - 1) / pieceLength;
        if (pieces.Length / 20 != expectedPieces)
            throw new TorrentException(
                $"info.pieces holds {pieces.Length / 20} hashes but {total} bytes in pieces of {pieceLength} need {expectedPieces}");

        var tiers = ImmutableArray.CreateBuilder<ImmutableArray<string>>();
        if (root.Get<BList>("announce-list") is { } al)
        {
            foreach (var tier in al)
            {
                if (tier is not BList urls) throw new TorrentException("announce-list must be a list of lists");
                var t = urls.Select(u => (u as BString ?? throw new TorrentException("announce-list URL is not a string")).Text)
                    .Where(u => u.Length > 0).ToImmutableArray();
                if (t.Length > 0) tiers.Add(t);
            }
        }
        if (tiers.Count == 0 && root.Get<BString>("announce") is { } a && a.Length > 0)
            tiers.Add([a.Text]);

        return new Torrent(data, root, info, rawInfo, name, pieceLength, pieces, files.ToImmutable(), multi, tiers.ToImmutable());
    }

    private static void CheckPathComponent(string s, string what)
    {
        if (s.Length == 0 || s == "." || s == ".." || s.Contains('/') || s.Contains('\0'))
            throw new TorrentException($"{what} component '{s}' is not a safe file name");
    }
}
