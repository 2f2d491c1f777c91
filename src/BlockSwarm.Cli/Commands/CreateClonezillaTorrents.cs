using System.CommandLine;
using BlockSwarm.Clonezilla;
using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Devices;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Cli.Commands;

/// <summary>
/// <c>blockswarm create --clonezilla --source IMAGEDIR [--output DIR]</c>: one torrent per partition of a Clonezilla
/// image directory, each with the info dictionary (so the info-hash) Clonezilla's BitTorrent mode gives it
/// (ocs-gen-bt-slices, then gen-torrent-from-ptcl as ocs-btsrv runs it), written as ocs-btsrv names it
/// (<c>DIR/sda1.torrent</c>). Hashed straight out of the compressed images: no btzone copy.
/// </summary>
internal static class CreateClonezillaTorrents
{
    /// <summary>The partitions to make torrents of (ocs-gen-bt-slices' DEVICE arguments); default: the image's parts file.</summary>
    public static Option<string[]> CreatePartsOption() => new("--clonezilla-parts")
    {
        Description = "With --clonezilla and an image directory: the partitions to make torrents of (sda1 …); default: every partition in its parts file",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>True when <c>create</c> is to make Clonezilla's per-partition torrents of an image directory.</summary>
    public static bool Applies(bool clonezilla, string source) => clonezilla && Directory.Exists(source);

    public static async Task<int> RunAsync(CliContext ctx, string imageDirectory, string? outputDirectory, IReadOnlyList<string> trackers,
        IReadOnlyList<string> parts, CancellationToken cancellationToken)
    {
        var written = new List<string>();
        try
        {
            var partitions = ClonezillaBtImage.List(imageDirectory, parts);
            var output = Path.GetFullPath(outputDirectory ?? ".");
            Directory.CreateDirectory(output);
            ctx.Out.WriteLine($"image       {Path.GetFullPath(imageDirectory)}: {partitions.Count} partition{(partitions.Count == 1 ? "" : "s")}");
            foreach (var skipped in partitions.Where(p => p.Skipped is not null))
                ctx.Warn($"{skipped.Partition}: no torrent: {skipped.Skipped}");
            var options = new ClonezillaBtOptions { Trackers = trackers, CreationDate = DateTimeOffset.UtcNow };
            foreach (var p in partitions.Where(p => p.Skipped is null))
            {
                var image = p.Image!;
                long compressed = image.StreamLength;
                using var source = ClonezillaBtSource.Open(p);
                var made = await ProgressDisplay.RunAsync(ctx, $"hashing {p.Partition}", source.UsedBytes,
                    report => source.CreateTorrent(options, report, cancellationToken)).ConfigureAwait(false);
                var path = Path.Combine(output, made.TorrentFileName);
                TorrentCreator.WriteAtomically(path, made.Torrent.Raw.Span);
                written.Add(path);
                var t = made.Torrent;
                ctx.Out.WriteLine($"{p.Partition,-11} {image.FileSystem}, {SuffixOf(image.Compression)} ({SizeParser.Format(compressed)} in {image.Files.Count} file{(image.Files.Count == 1 ? "" : "s")}): " +
                    $"{SizeParser.Format(made.UsedBytes)} used in {made.Slices} slice{(made.Slices == 1 ? "" : "s")}, {t.PieceCount} piece{(t.PieceCount == 1 ? "" : "s")} of 16 MiB, " +
                    $"hashed in {made.Elapsed.TotalSeconds:0.00} s ({ProgressDisplay.Rate(made.UsedBytes, made.Elapsed)})");
                ctx.Out.WriteLine($"{"",-11} info-hash {t.InfoHash.ToHex()}  {path}");
            }
            if (written.Count == 0)
            {
                ctx.Fail($"{imageDirectory}: no partition has a partclone image Clonezilla's BitTorrent mode makes a torrent of");
                return ExitCodes.Error;
            }
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException)
        {
            ctx.Fail($"interrupted{Written(written)}");
            return ExitCodes.Interrupted;
        }
        catch (Exception ex) when (ex is IOException or TorrentException or UnauthorizedAccessException)
        {
            ctx.Fail(ex.Message + Written(written));
            return ExitCodes.Error;
        }
    }

    private static string Written(List<string> written) =>
        written.Count == 0 ? "; no torrent written" : $"; written before that: {string.Join(", ", written)}";

    /// <summary>The suffix Clonezilla gives the image files (<c>zst</c>, <c>gz</c>…).</summary>
    private static string SuffixOf(ClonezillaCompression compression) => compression switch
    {
        ClonezillaCompression.Gzip => "gz",
        ClonezillaCompression.Zstd => "zst",
        ClonezillaCompression.Xz => "xz",
        ClonezillaCompression.Bzip2 => "bz2",
        ClonezillaCompression.Lz4 => "lz4",
        ClonezillaCompression.Lzo => "lzo",
        ClonezillaCompression.Lzma => "lzma",
        ClonezillaCompression.None => "uncomp",
        _ => compression.ToString(),
    };
}
