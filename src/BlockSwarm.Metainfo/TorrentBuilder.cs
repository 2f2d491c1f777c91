using BlockSwarm.Bencode;

namespace BlockSwarm.Metainfo;

/// <summary>
/// Writes a v1 torrent. The info dictionary holds exactly what libtorrent's v1-only
/// <c>create_torrent</c> writes (files, name, piece length, pieces; private only when set),
/// so the same layout and hashes give the same info-hash as Clonezilla's converter.
/// </summary>
public sealed class TorrentBuilder
{
    private readonly List<(IReadOnlyList<string> Path, long Length)> _files = [];

    public TorrentBuilder(string name, int pieceLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        PieceLength = pieceLength;
    }

    public string Name { get; }
    public int PieceLength { get; }

    /// <summary>Concatenated 20-byte SHA-1 piece hashes.</summary>
    public ReadOnlyMemory<byte> PieceHashes { get; set; }

    /// <summary>Tracker tiers; the first URL becomes <c>announce</c>, more than one URL adds <c>announce-list</c>.</summary>
    public IList<IReadOnlyList<string>> Trackers { get; } = new List<IReadOnlyList<string>>();

    public string? CreatedBy { get; set; }
    public DateTimeOffset? CreationDate { get; set; }
    public string? Comment { get; set; }
    public bool IsPrivate { get; set; }

    /// <summary>Writes a multi-file torrent even with one file (block images are always multi-file).</summary>
    public bool ForceMultiFile { get; set; } = true;

    public TorrentBuilder AddFile(IReadOnlyList<string> path, long length)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _files.Add((path, length));
        return this;
    }

    public long TotalLength => _files.Sum(f => f.Length);

    public BDictionary BuildInfo()
    {
        var info = new BDictionary();
        if (_files.Count == 1 && !ForceMultiFile)
        {
            info["length"] = new BInteger(_files[0].Length);
        }
        else
        {
            var files = new BList();
            foreach (var (path, length) in _files)
            {
                var f = new BDictionary
                {
                    ["length"] = new BInteger(length),
                    ["path"] = new BList(path.Select(p => (BValue)new BString(p))),
                };
                files.Add(f);
            }
            info["files"] = files;
        }
        info["name"] = new BString(Name);
        info["piece length"] = new BInteger(PieceLength);
        info["pieces"] = new BString(PieceHashes);
        if (IsPrivate) info["private"] = new BInteger(1);
        return info;
    }

    /// <summary>Encodes the torrent and validates it by parsing it back.</summary>
    public Torrent Build()
    {
        var root = new BDictionary();
        var urls = Trackers.SelectMany(t => t).ToList();
        if (urls.Count > 0) root["announce"] = new BString(urls[0]);
        if (urls.Count > 1)
            root["announce-list"] = new BList(Trackers.Where(t => t.Count > 0).Select(t => (BValue)new BList(t.Select(u => (BValue)new BString(u)))));
        if (Comment != null) root["comment"] = new BString(Comment);
        if (CreatedBy != null) root["created by"] = new BString(CreatedBy);
        if (CreationDate is { } d) root["creation date"] = new BInteger(d.ToUnixTimeSeconds());
        root["info"] = BuildInfo();
        return Torrent.Parse(BencodeEncoder.Encode(root));
    }
}
