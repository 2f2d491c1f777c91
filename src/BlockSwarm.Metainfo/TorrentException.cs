namespace BlockSwarm.Metainfo;

/// <summary>A torrent is malformed or fails validation; the message names the problem.</summary>
public sealed class TorrentException : Exception
{
    public TorrentException() { }
    public TorrentException(string message) : base(message) { }
    public TorrentException(string message, Exception inner) : base(message, inner) { }
}
