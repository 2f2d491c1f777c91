using System.CommandLine;
using System.Diagnostics;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm verify</c>: re-hash a target's extents against a torrent.</summary>
public static class VerifyCommand
{
    public static Command Build(CliContext ctx)
    {
        var torrentOpt = new Option<string>("--torrent", "-t") { Description = "The block-image torrent", Required = true };
        var target = new Option<string>("--target") { Description = "Device or image file to check", Required = true };
        var cmd = new Command("verify", "Re-hash a target's extents and list pieces that differ from the torrent (exit 3 if any)") { torrentOpt, target };
        cmd.SetAction(async (pr, ct) =>
        {
            try
            {
                var t = Torrent.Load(pr.GetValue(torrentOpt)!);
                using var dev = DeviceFile.OpenRead(pr.GetValue(target)!);
                var layout = BlockImageLayout.Create(t, dev.Size);
                var hasher = new PieceHasher(dev, layout.Stream, t.PieceLength);
                var expected = new byte[t.PieceCount * 20];
                for (int i = 0; i < t.PieceCount; i++) t.GetPieceHash(i).CopyTo(expected.AsSpan(i * 20));
                var sw = Stopwatch.StartNew();
                var bad = await ProgressDisplay.RunAsync(ctx, "verifying", t.TotalLength,
                    report => hasher.FindBadPieces(expected, report, ct)).ConfigureAwait(false);
                if (bad.Count == 0)
                {
                    ctx.Out.WriteLine($"ok: all {t.PieceCount} pieces ({SizeParser.Format(t.TotalLength)}) match, {ProgressDisplay.Rate(t.TotalLength, sw.Elapsed)}");
                    return ExitCodes.Ok;
                }
                ctx.Out.WriteLine($"{bad.Count} of {t.PieceCount} pieces differ:");
                var slices = new List<DeviceSlice>();
                foreach (var p in bad.Take(100))
                {
                    slices.Clear();
                    layout.MapPiece(p, 0, t.GetPieceLength(p), slices);
                    ctx.Out.WriteLine($"  piece {p}: device bytes {string.Join(", ", slices.Select(s => $"0x{s.DeviceOffset:x}+{s.Length}"))}");
                }
                if (bad.Count > 100) ctx.Out.WriteLine($"  ... {bad.Count - 100} more");
                return ExitCodes.VerifyFailed;
            }
            catch (OperationCanceledException)
            {
                ctx.Fail("interrupted");
                return ExitCodes.Interrupted;
            }
            catch (Exception ex) when (ex is IOException or TorrentException or UnauthorizedAccessException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }
}
