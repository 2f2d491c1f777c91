using System.Diagnostics;
using BlockSwarm.Clonezilla;
using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Cli;

/// <summary>
/// A Clonezilla image directory given as <c>--source</c>: one disk of it as a whole-disk job (<see cref="DiskJob"/>),
/// its torrent from the index cache when the directory is unchanged, else hashed in one decompression pass and cached.
/// Nothing is restored: <see cref="OpenStorage"/> serves pieces straight out of the compressed images.
/// </summary>
internal sealed class ImageDirectorySource : IDisposable
{
    private ImageDirectorySource(ClonezillaImage image, DiskJob job, Torrent torrent, string index, TimeSpan elapsed)
    {
        Image = image;
        Job = job;
        Torrent = torrent;
        Index = index;
        Elapsed = elapsed;
    }

    public ClonezillaImage Image { get; }

    public DiskJob Job { get; }

    public Torrent Torrent { get; }

    /// <summary>Where the piece hashes came from ("index reused from …" or "hashed …").</summary>
    public string Index { get; }

    /// <summary>Time from opening the directory to having the torrent.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The size of the disk the image was saved from.</summary>
    public long DiskSize => Job.Disk.Size;

    /// <summary>
    /// The smallest target the image fits: past every partition's end and everything the job writes (a GPT's backup
    /// area is at the saved disk's end, so a GPT disk needs the whole saved size).
    /// </summary>
    public long RequiredTargetSize => RequiredTarget(Job);

    private static long RequiredTarget(DiskJob job) =>
        Math.Max(job.Extents.Length == 0 ? 0 : job.Extents[^1].End, job.Disk.Partitions.Select(p => p.End).DefaultIfEmpty(0).Max());

    /// <summary>
    /// A directory Clonezilla wrote: it has a <c>disk</c> or a <c>parts</c> list (a partclone slice directory of
    /// <c>torrent.info</c> is not one).
    /// </summary>
    public static bool IsImageDirectory(string path) =>
        Directory.Exists(path) && (File.Exists(Path.Combine(path, "disk")) || File.Exists(Path.Combine(path, "parts")));

    /// <summary>Picks the disk: the only one, or the one <paramref name="diskName"/> names (several need a name).</summary>
    public static ClonezillaDisk PickDisk(ClonezillaImage image, string? diskName)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (diskName is not null)
            return image.Disks.FirstOrDefault(d => d.Name == diskName)
                ?? throw new UsageException($"--disk {diskName}: {image.Path} holds {string.Join(", ", image.Disks.Select(d => d.Name))}");
        if (image.Disks.Count > 1)
            throw new UsageException($"{image.Path} holds {image.Disks.Count} disks ({string.Join(", ", image.Disks.Select(d => d.Name))}): " +
                "each is its own deployment; choose one with --disk NAME");
        return image.Disks[0];
    }

    /// <summary>
    /// Opens the job of one disk of <paramref name="directory"/> and its torrent: the cached piece hashes when the
    /// directory is unchanged and the piece length is the same, else one hashing pass (progress on stderr), saved to
    /// <paramref name="cache"/> (null: no cache).
    /// </summary>
    public static async Task<ImageDirectorySource> OpenAsync(CliContext ctx, string directory, string? diskName, string pieceSize,
        CreateOptions options, ImageJobCache? cache, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var image = ClonezillaImage.Load(directory);
        var disk = PickDisk(image, diskName);
        var job = DiskJob.Open(disk, loggerFactory: ctx.LoggerFactory);
        try
        {
            int pieceLength = PieceSizing.Parse(pieceSize, job.Bytes);
            string index;
            Torrent torrent;
            string reason = "";
            var cached = cache?.TryLoad(directory, disk.Name, out reason);
            if (cached is not null && Reusable(cached, job, pieceLength))
            {
                torrent = TorrentCreator.FromHashes(job.Extents, cached.PieceHashes.ToArray(), pieceLength, options);
                index = reason;
            }
            else
            {
                if (cache is not null) ctx.Err.WriteLine($"{directory}: hashing {disk.Name} ({(cached is null ? reason : "the cached index is of other pieces")})");
                torrent = await ProgressDisplay.RunAsync(ctx, "hashing", job.Bytes,
                    report => job.CreateTorrent(options with { PieceLength = pieceLength }, report, ct)).ConfigureAwait(false);
                if (cache is not null)
                {
                    cache.Save(directory, disk.Name, torrent);
                    index = $"hashed in {sw.Elapsed.TotalSeconds:0.0} s, index saved in {cache.DirectoryFor(directory)}";
                }
                else
                {
                    index = $"hashed in {sw.Elapsed.TotalSeconds:0.0} s";
                }
            }
            return new ImageDirectorySource(image, job, torrent, index, sw.Elapsed);
        }
        catch
        {
            job.Dispose();
            throw;
        }
    }

    /// <summary>Seed-only storage reading the job's pieces out of the compressed images, every piece trusted (they were hashed from them).</summary>
    public SequentialImageStorage OpenStorage()
    {
        var storage = new SequentialImageStorage(Job.Device, Torrent);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        return storage;
    }

    /// <summary>
    /// Seed-only storage for a torrent made earlier from a disk of <paramref name="directory"/> (<c>seed</c>, <c>serve
    /// --torrent</c>): the disk whose extents are the torrent's files. The storage owns the job's decoders.
    /// </summary>
    public static SequentialImageStorage OpenStorageFor(Torrent torrent, string directory, StorageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        // A per-partition torrent (create --clonezilla; Clonezilla's BitTorrent mode): named after its partition, its
        // files the slices of that partition's used blocks.
        if (ClonezillaBtImage.List(directory).FirstOrDefault(p => p.TorrentName == torrent.Name && p.Image is not null) is { } part)
        {
            var device = DiskJob.OpenPartitionDevice(part.Partition, part.Image!, out var used);
            // Clonezilla cuts a run into slices at every 16 MiB of used data: joined, they are the runs.
            var layout = BlockImageLayout.IsBlockImage(torrent) ? BlockImageLayout.Create(torrent) : null;
            var files = layout is null ? [] : BlockMap.Normalize(layout.RequiredDeviceSize, 1, layout.Extents).Extents;
            if (files.SequenceEqual(used)) return new SequentialImageStorage(device, torrent, options);
            device.Dispose();
            throw new TorrentException($"the torrent {torrent.Name} ({torrent.InfoHash.ToHex()}) is named after partition {part.Partition} of {directory} " +
                "but its files are not that partition's used blocks");
        }
        var image = ClonezillaImage.Load(directory);
        foreach (var disk in image.Disks)
        {
            var job = DiskJob.Open(disk);
            if (Reusable(torrent, job, torrent.PieceLength)) return new SequentialImageStorage(job.Device, torrent, options);
            job.Dispose();
        }
        throw new TorrentException($"the torrent {torrent.Name} ({torrent.InfoHash.ToHex()}) is of no disk of {directory} " +
            $"({string.Join(", ", image.Disks.Select(d => d.Name))}): its files are not the extents any of them writes");
    }

    /// <summary>One line per partition, for the operator: what the deployment writes where.</summary>
    public IEnumerable<string> Describe() => Describe(Image, Job, Index);

    /// <summary>
    /// <c>inspect</c> of an image directory: each disk, its partitions (file system, compression, split files, bytes
    /// written) and what a deployment of it writes. Reads only the images' headers and bitmaps.
    /// </summary>
    public static IEnumerable<string> DescribeDirectory(string directory)
    {
        var image = ClonezillaImage.Load(directory);
        yield return $"image       {image.Path}: {image.Disks.Count} disk(s), partitions saved: {string.Join(" ", image.PartitionNames)}";
        foreach (var disk in image.Disks)
        {
            using var job = DiskJob.Open(disk);
            foreach (var line in Describe(image, job, index: null)) yield return line;
        }
    }

    private static IEnumerable<string> Describe(ClonezillaImage image, DiskJob job, string? index)
    {
        var d = job.Disk;
        yield return $"disk        {d.Name}: {SizeParser.Format(d.Size)} ({d.Size} bytes), {d.Table}, {d.Partitions.Count} partitions";
        foreach (var area in d.BootAreas)
            yield return $"  boot      {area}";
        foreach (var p in d.Partitions)
        {
            long written = job.Extents.Where(e => e.Offset < p.End && p.Start < e.End)
                .Sum(e => Math.Min(e.End, p.End) - Math.Max(e.Offset, p.Start));
            var what = p.Image is { } i ? $"{i.FileSystem}, {i.Compression}, {i.Files.Count} file(s) of {SizeParser.Format(i.StreamLength)}"
                : p.Content == ClonezillaContentKind.Swap ? $"swap, UUID {p.Swap?.Uuid?.ToString() ?? "(new)"}" : "nothing restored";
            yield return $"  {p.Name,-9} [{p.Start}, {p.End}) {SizeParser.Format(p.Length),9}  {p.Content}: {what}; writes {SizeParser.Format(written)}";
        }
        yield return $"writes      {SizeParser.Format(job.Bytes)} ({job.Bytes} bytes) in {job.Extents.Length} extents{(index is null ? "" : "; " + index)}";
        yield return $"target      at least {SizeParser.Format(RequiredTarget(job))} ({RequiredTarget(job)} bytes): past the last partition and the last byte written";
    }

    public void Dispose() => Job.Dispose();

    private static bool Reusable(Torrent cached, DiskJob job, int pieceLength)
    {
        if (cached.PieceLength != pieceLength || cached.TotalLength != job.Bytes || cached.Files.Length != job.Extents.Length) return false;
        for (int i = 0; i < job.Extents.Length; i++)
            if (cached.Files[i].Length != job.Extents[i].Length || cached.Files[i].Path[^1] != BlockImageLayout.FormatHexOffset(job.Extents[i].Offset))
                return false;
        return true;
    }

}
