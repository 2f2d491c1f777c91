namespace BlockSwarm.Metainfo;

/// <summary>One file of a torrent: its path components (under the torrent name), length and place in the piece stream.</summary>
public sealed record TorrentFile(IReadOnlyList<string> Path, long Length, long StreamOffset)
{
    public long StreamEnd => StreamOffset + Length;

    /// <summary>The path joined with '/'.</summary>
    public string PathString => string.Join('/', Path);
}
