using System.Collections.Immutable;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using Microsoft.Win32.SafeHandles;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Any torrent as plain files, the standard BitTorrent layout (what aria2c and libtorrent
/// write): a single-file torrent is <c>dir/name</c>, a multi-file torrent is
/// <c>dir/name/path…</c>. Files are created sparse at their full length. Every path is
/// resolved under the directory and refused if it would leave it (<c>..</c>, absolute
/// components, symbolic links).
/// </summary>
public sealed class FileStorage : MappedPieceStorage
{
    private FileStorage(FileSetBlockDevice device, ExtentStream stream, Torrent torrent, StorageOptions? options)
        : base(device, stream, torrent.PieceLength, options)
    {
        Torrent = torrent;
    }

    public Torrent Torrent { get; }

    /// <summary>
    /// Opens the torrent's files under <paramref name="directory"/>. Writable: missing files
    /// and directories are created and every file is set to its exact length. Read-only
    /// (seeding): every file must exist with its exact length.
    /// </summary>
    public static FileStorage Open(string directory, Torrent torrent, StorageOptions? options = null, bool writable = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(torrent);
        string root = Path.GetFullPath(directory);
        if (writable) Directory.CreateDirectory(root);
        var members = new List<FileSetBlockDevice.Member>();
        try
        {
            foreach (var f in torrent.Files)
            {
                IReadOnlyList<string> parts = torrent.IsMultiFile ? [torrent.Name, .. f.Path] : [torrent.Name];
                string path = ResolvePath(root, parts);
                members.Add(new FileSetBlockDevice.Member(f.StreamOffset, f.Length, path, OpenMember(path, f.Length, writable)));
            }
            var device = new FileSetBlockDevice(Path.Combine(root, torrent.Name), members, writable);
            // The piece stream is the files back to back: address = stream offset.
            var stream = new ExtentStream(torrent.Files.Where(f => f.Length > 0)
                .Select(f => new Extent(f.StreamOffset, f.Length)).ToImmutableArray());
            return new FileStorage(device, stream, torrent, options);
        }
        catch
        {
            foreach (var m in members) m.Handle.Dispose();
            throw;
        }
    }

    private static SafeFileHandle OpenMember(string path, long length, bool writable)
    {
        try
        {
            if (!writable)
            {
                var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                long actual = RandomAccess.GetLength(h);
                if (actual != length)
                {
                    h.Dispose();
                    throw new StorageException($"{path}: is {actual} bytes, the torrent says {length}");
                }
                return h;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var w = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            // Sparse: SetLength allocates nothing; a longer file is cut to the torrent's length as other clients do.
            if (RandomAccess.GetLength(w) != length) RandomAccess.SetLength(w, length);
            return w;
        }
        catch (Exception ex) when (ex is IOException and not StorageException or UnauthorizedAccessException)
        {
            throw new StorageException($"{path}: cannot open: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Joins path components under <paramref name="root"/>, refusing anything that could
    /// escape it: empty, <c>.</c> or <c>..</c> components, separators or NUL inside a
    /// component, and existing symbolic links along the way.
    /// </summary>
    internal static string ResolvePath(string root, IReadOnlyList<string> components)
    {
        string full = Path.GetFullPath(root).TrimEnd('/');
        string current = full;
        foreach (var c in components)
        {
            if (c.Length == 0 || c == "." || c == ".." || c.Contains('/') || c.Contains('\\') || c.Contains('\0'))
                throw new StorageException($"unsafe path component '{c}' in '{string.Join('/', components)}'");
            current = Path.Combine(current, c);
            // A symlink (planted by anyone with access to the directory) could point anywhere.
            var info = new FileInfo(current);
            if (info.Exists || Directory.Exists(current))
                if ((info.Attributes & FileAttributes.ReparsePoint) != 0)
                    throw new StorageException($"{current}: is a symbolic link; refusing to follow it out of {full}");
        }
        string resolved = Path.GetFullPath(current);
        if (!resolved.StartsWith(full + "/", StringComparison.Ordinal))
            throw new StorageException($"'{string.Join('/', components)}' resolves to {resolved}, outside {full}");
        return resolved;
    }
}
