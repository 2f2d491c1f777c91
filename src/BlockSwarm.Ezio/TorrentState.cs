namespace BlockSwarm.Ezio;

/// <summary>
/// A torrent's state as EZIO reports it: libtorrent 2.0's <c>torrent_status::state_t</c>, by number (the API carries
/// the number; Clonezilla's tools index a name table with it).
/// </summary>
public enum TorrentState
{
    /// <summary>The data at the save path is being hashed to learn which pieces are already there.</summary>
    CheckingFiles = 1,

    /// <summary>Never reported: torrents are added with their metadata.</summary>
    DownloadingMetadata = 2,

    Downloading = 3,

    /// <summary>libtorrent's "every wanted piece, not every piece" (file priorities); never reported: every piece is wanted.</summary>
    Finished = 4,

    /// <summary>Every piece verified and on stable storage; uploading to whoever asks.</summary>
    Seeding = 5,

    /// <summary>Never reported: a resume file is read as part of <see cref="CheckingFiles"/>.</summary>
    CheckingResumeData = 7,
}
