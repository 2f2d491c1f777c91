using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Seeds a block-image torrent straight from a partclone <c>-T</c> output directory, where
/// each used run is a file named by its 32-hex-digit device offset holding that run's bytes.
/// Read-only: the directory is the source, never a target.
/// </summary>
public sealed class PartcloneSliceSource : MappedPieceStorage
{
    private PartcloneSliceSource(FileSetBlockDevice device, BlockImageLayout layout, StorageOptions? options)
        : base(device, layout.Stream, layout.Torrent.PieceLength, options)
    {
        Layout = layout;
    }

    public BlockImageLayout Layout { get; }

    /// <summary>Opens the run files the torrent lists; each must exist in <paramref name="directory"/> with the listed length.</summary>
    public static PartcloneSliceSource Open(string directory, Torrent torrent, StorageOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(torrent);
        BlockImageLayout layout;
        try
        {
            layout = BlockImageLayout.Create(torrent);
        }
        catch (TorrentException ex)
        {
            throw new StorageException($"{directory}: {ex.Message}", ex);
        }
        string root = Path.GetFullPath(directory);
        var members = new List<FileSetBlockDevice.Member>();
        try
        {
            for (int i = 0; i < torrent.Files.Length; i++)
            {
                var f = torrent.Files[i];
                var extent = layout.Extents[i];
                string path = FileStorage.ResolvePath(root, [f.Path[0]]);
                if (!File.Exists(path))
                    throw new StorageException($"{path}: missing; the partclone directory does not hold run {f.Path[0]} of the torrent");
                var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
                members.Add(new FileSetBlockDevice.Member(extent.Offset, extent.Length, path, h));
                long actual = RandomAccess.GetLength(h);
                if (actual != f.Length)
                    throw new StorageException($"{path}: is {actual} bytes, the torrent says {f.Length}");
            }
            var device = new FileSetBlockDevice(root, members, canWrite: false);
            return new PartcloneSliceSource(device, layout, options);
        }
        catch
        {
            foreach (var m in members) m.Handle.Dispose();
            throw;
        }
    }
}
