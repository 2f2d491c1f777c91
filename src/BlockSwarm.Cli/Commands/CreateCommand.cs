using System.CommandLine;
using System.Diagnostics;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm create</c>: source + used-block map → block-image torrent.</summary>
public static class CreateCommand
{
    public static Command Build(CliContext ctx)
    {
        var source = new Option<string>("--source", "-s") { Description = "Block device, image file or Clonezilla image directory (one whole-disk torrent per disk) to read", Required = true };
        var disk = new Option<string?>("--disk") { Description = "Which disk of a Clonezilla image directory that holds several" };
        var map = new Option<string>("--map", "-m")
        {
            Description = "Used-block map: auto (MBR/GPT + ext2/3/4, FAT, NTFS, XFS scanners; unknown volumes fall back to nonzero), all, nonzero, or partclone:FILE (partclone's torrent.info)",
            DefaultValueFactory = _ => "auto",
        };
        var pieceSize = new Option<string>("--piece-size") { Description = "Piece length: auto (about 1000-2000 pieces) or a power of two such as 4MiB", DefaultValueFactory = _ => "auto" };
        var name = new Option<string?>("--name") { Description = "Torrent name (default: the source's base name)" };
        var trackers = new Option<string[]>("--tracker") { Description = "Announce URL (repeatable; one tier each)", Arity = ArgumentArity.ZeroOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the torrent (default: NAME.torrent)" };
        var clonezilla = new Option<bool>("--clonezilla")
        {
            Description = "What Clonezilla's converter sets: 16 MiB pieces, v1 only, no creation date. With a Clonezilla image directory as --source: " +
                "one torrent per partition with the info-hash Clonezilla's BitTorrent mode gives it, written to the --output directory as PART.torrent",
        };
        var clonezillaParts = CreateClonezillaTorrents.CreatePartsOption();
        var comment = new Option<string?>("--comment") { Description = "Comment stored in the torrent" };
        var partition = new Option<int?>("--partition", "-p") { Description = "Make a torrent of partition N only (offsets relative to it, as Clonezilla does per partition); default: the whole disk" };
        var cmd = new Command("create", "Create a block-image torrent (files named by hex device offset) from a device or image")
        {
            source, disk, map, pieceSize, name, trackers, output, clonezilla, comment, partition, clonezillaParts,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            var src = pr.GetValue(source)!;
            if (CreateClonezillaTorrents.Applies(pr.GetValue(clonezilla), src))
                return await CreateClonezillaTorrents.RunAsync(ctx, src, pr.GetValue(output), pr.GetValue(trackers) ?? [], pr.GetValue(clonezillaParts) ?? [], ct).ConfigureAwait(false);
            try
            {
                if (ImageDirectorySource.IsImageDirectory(src) && !pr.GetValue(clonezilla))
                    return await CreateFromImageDirectoryAsync(ctx, src, pr.GetValue(disk), pr.GetValue(pieceSize)!, pr.GetValue(name), pr.GetValue(trackers) ?? [],
                        pr.GetValue(comment), pr.GetValue(output), ct).ConfigureAwait(false);
                var spec = MapSpec.Parse(pr.GetValue(map)!);
                using var dev = DeviceFile.OpenRead(src);
                var sw = Stopwatch.StartNew();
                var resolved = await ProgressDisplay.RunAsync(ctx, "scanning", dev.Size,
                    report => MapResolver.Resolve(spec, dev, report, pr.GetValue(partition), ctx.LoggerFactory, ct)).ConfigureAwait(false);
                foreach (var w in resolved.Warnings) ctx.Warn(w);
                var scanTime = sw.Elapsed;
                bool cz = pr.GetValue(clonezilla);
                int pl = cz ? PieceSizing.ClonezillaPieceLength : PieceSizing.Parse(pr.GetValue(pieceSize)!, resolved.Map.UsedBytes);
                var torrentName = pr.GetValue(name) ?? DefaultName(src);
                var options = new CreateOptions
                {
                    Name = torrentName,
                    PieceLength = pl,
                    Trackers = pr.GetValue(trackers) ?? [],
                    CreatedBy = cz ? "CloneZilla" : "BlockSwarm",
                    CreationDate = cz ? null : DateTimeOffset.UtcNow,
                    Comment = pr.GetValue(comment),
                    ExpectedPieceHashes = resolved.PartcloneHashes,
                    SourceOffset = resolved.VolumeOffset,
                    LoggerFactory = ctx.LoggerFactory,
                };
                sw.Restart();
                var torrent = await ProgressDisplay.RunAsync(ctx, "hashing", resolved.Map.UsedBytes,
                    report => TorrentCreator.Create(dev, resolved.Map, options, report, ct)).ConfigureAwait(false);
                var hashTime = sw.Elapsed;
                var outPath = pr.GetValue(output) ?? torrentName + ".torrent";
                TorrentCreator.WriteAtomically(outPath, torrent.Raw.Span);
                ctx.Out.WriteLine($"source      {src} ({SizeParser.Format(dev.Size)}{(dev.IsBlockDevice ? ", block device" : "")})");
                ctx.Out.WriteLine($"map         {resolved.Method}, {resolved.Map.Extents.Length} extents, scanned in {scanTime.TotalSeconds:0.00} s");
                ctx.Out.WriteLine($"used        {SizeParser.Format(resolved.Map.UsedBytes)} ({resolved.Map.UsedBytes} bytes, {100.0 * resolved.Map.UsedBytes / dev.Size:0.0}% of the device)");
                ctx.Out.WriteLine($"pieces      {torrent.PieceCount} × {SizeParser.Format(torrent.PieceLength)}, hashed in {hashTime.TotalSeconds:0.00} s ({ProgressDisplay.Rate(resolved.Map.UsedBytes, hashTime)})");
                ctx.Out.WriteLine($"info-hash   {torrent.InfoHash.ToHex()}");
                ctx.Out.WriteLine($"written     {Path.GetFullPath(outPath)}");
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                ctx.Fail("interrupted; no torrent written");
                return ExitCodes.Interrupted;
            }
            catch (UsageException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
            catch (Exception ex) when (ex is IOException or BlockMapException or TorrentException or FormatException or UnauthorizedAccessException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }

    /// <summary>A Clonezilla image directory's disk as one whole-disk torrent (its hashes also kept in the index cache, so serve starts at once).</summary>
    private static async Task<int> CreateFromImageDirectoryAsync(CliContext ctx, string src, string? disk, string pieceSize, string? name,
        string[] trackers, string? comment, string? output, CancellationToken ct)
    {
        var options = new CreateOptions
        {
            Name = name ?? Path.GetFileName(Path.GetFullPath(src).TrimEnd('/')),
            Trackers = trackers,
            Comment = comment,
            CreationDate = DateTimeOffset.UtcNow,
            LoggerFactory = ctx.LoggerFactory,
        };
        using var image = await ImageDirectorySource.OpenAsync(ctx, src, disk, pieceSize, options, new ImageJobCache(ImageJobCache.DefaultRoot), ct).ConfigureAwait(false);
        var torrent = image.Torrent;
        var outPath = output ?? torrent.Name + ".torrent";
        TorrentCreator.WriteAtomically(outPath, torrent.Raw.Span);
        foreach (var line in image.Describe()) ctx.Out.WriteLine(line);
        ctx.Out.WriteLine($"pieces      {torrent.PieceCount} × {SizeParser.Format(torrent.PieceLength)}, ready in {image.Elapsed.TotalSeconds:0.00} s");
        ctx.Out.WriteLine($"info-hash   {torrent.InfoHash.ToHex()}");
        ctx.Out.WriteLine($"written     {Path.GetFullPath(outPath)}");
        return ExitCodes.Ok;
    }

    private static string DefaultName(string source)
    {
        var n = Path.GetFileName(source.TrimEnd('/'));
        var ext = Path.GetExtension(n);
        if (ext is ".img" or ".raw" or ".bin" or ".iso") n = Path.GetFileNameWithoutExtension(n);
        return n.Length == 0 ? "image" : n;
    }
}
