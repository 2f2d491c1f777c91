using System.CommandLine;
using System.Diagnostics;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Cli.Commands;

/// <summary>
/// <c>blockswarm demo</c>: builds a real ext4 image with sample files (mkfs.ext4 -d), maps its
/// used blocks, creates the torrent with progress and verifies it — the README's main job.
/// </summary>
public static class DemoCommand
{
    public static Command Build(CliContext ctx)
    {
        var workDir = new Option<string?>("--dir") { Description = "Working directory (default: a new temporary directory, removed afterwards)" };
        var sizeMiB = new Option<int>("--size-mib") { Description = "Size of the sample ext4 image in MiB", DefaultValueFactory = _ => 256 };
        var cmd = new Command("demo", "Build a sample ext4 image and run the pipeline on it end to end") { workDir, sizeMiB };
        cmd.SetAction(async (pr, ct) =>
        {
            var dir = pr.GetValue(workDir);
            bool temp = dir == null;
            dir ??= Directory.CreateTempSubdirectory("blockswarm-demo-").FullName;
            Directory.CreateDirectory(dir);
            try
            {
                var sw = Stopwatch.StartNew();
                var img = await SampleImage.BuildExt4Async(dir, pr.GetValue(sizeMiB), ctx, ct).ConfigureAwait(false);
                ctx.Out.WriteLine($"built {img} ({SizeParser.Format(new FileInfo(img).Length)}) in {sw.Elapsed.TotalSeconds:0.0} s");
                var torrentPath = Path.Combine(dir, "sample.torrent");
                int rc = await CliApp.RunAsync(["create", "--source", img, "--map", "auto", "-o", torrentPath], ctx, ct).ConfigureAwait(false);
                if (rc != 0) return rc;
                rc = await CliApp.RunAsync(["verify", "--torrent", torrentPath, "--target", img], ctx, ct).ConfigureAwait(false);
                if (rc != 0) return rc;
                ctx.Out.WriteLine($"demo finished in {sw.Elapsed.TotalSeconds:0.0} s");
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or TorrentException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
            finally
            {
                if (temp) TryDelete(dir);
            }
        });
        return cmd;
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
