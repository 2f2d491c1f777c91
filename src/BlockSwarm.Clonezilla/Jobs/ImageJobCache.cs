using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Clonezilla.Jobs;

/// <summary>
/// What the first serve of an image directory computed (the job's torrent: its piece hashes cost one pass over every
/// compressed byte), kept outside the directory (which may be read-only) so a second serve starts at once. An entry is
/// used only while the directory is unchanged: every file's name, length and modification time must match what they
/// were when the entry was written; otherwise it is recomputed.
/// </summary>
public sealed class ImageJobCache(string root)
{
    private const string ManifestName = "manifest";

    /// <summary>
    /// <c>$BLOCKSWARM_CACHE</c>, else <c>$XDG_CACHE_HOME/blockswarm</c>, else <c>~/.cache/blockswarm</c> (root's is
    /// /root/.cache/blockswarm: serve runs as root on an image server).
    /// </summary>
    public static string DefaultRoot =>
        Environment.GetEnvironmentVariable("BLOCKSWARM_CACHE") is { Length: > 0 } explicitRoot ? explicitRoot
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "blockswarm");

    public string Root { get; } = root;

    /// <summary>The cache directory of one image directory (by its full path).</summary>
    public string DirectoryFor(string imageDirectory)
    {
        var full = Path.GetFullPath(imageDirectory).TrimEnd('/');
        var key = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(full)))[..16];
        return Path.Combine(Root, "clonezilla", $"{Path.GetFileName(full)}-{key}");
    }

    /// <summary>The cached torrent of job <paramref name="job"/>, or null with the reason it cannot be used.</summary>
    public Torrent? TryLoad(string imageDirectory, string job, out string reason)
    {
        var dir = DirectoryFor(imageDirectory);
        var torrentPath = Path.Combine(dir, job + ".torrent");
        var manifestPath = Path.Combine(dir, ManifestName);
        if (!File.Exists(torrentPath) || !File.Exists(manifestPath))
        {
            reason = $"no cached index in {dir}";
            return null;
        }
        var now = Fingerprint(imageDirectory);
        var then = File.ReadAllText(manifestPath);
        if (now != then)
        {
            reason = $"the image directory changed since {dir} was written";
            return null;
        }
        try
        {
            reason = $"index reused from {dir}";
            return Torrent.Load(torrentPath);
        }
        catch (TorrentException ex)
        {
            reason = $"the cached torrent {torrentPath} is unreadable ({ex.Message})";
            return null;
        }
    }

    /// <summary>Keeps <paramref name="torrent"/> for the directory as it is now (atomically: never a half-written entry).</summary>
    public void Save(string imageDirectory, string job, Torrent torrent)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        var dir = DirectoryFor(imageDirectory);
        Directory.CreateDirectory(dir);
        TorrentCreator.WriteAtomically(Path.Combine(dir, job + ".torrent"), torrent.Raw.Span);
        TorrentCreator.WriteAtomically(Path.Combine(dir, ManifestName), Encoding.UTF8.GetBytes(Fingerprint(imageDirectory)));
    }

    /// <summary>One line per file of the directory (sorted): name, length, modification time in ticks.</summary>
    internal static string Fingerprint(string imageDirectory)
    {
        var sb = new StringBuilder();
        foreach (var file in new DirectoryInfo(imageDirectory).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            sb.Append(CultureInfo.InvariantCulture, $"{file.Name}\t{file.Length}\t{file.LastWriteTimeUtc.Ticks}\n");
        return sb.ToString();
    }
}
