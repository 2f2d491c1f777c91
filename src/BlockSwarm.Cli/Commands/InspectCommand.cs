using System.CommandLine;
using System.Text.Json;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm inspect</c>: summary, extents and trackers of a torrent.</summary>
public static class InspectCommand
{
    public static Command Build(CliContext ctx)
    {
        var torrentArg = new Argument<string>("TORRENT") { Description = "The .torrent file, or a Clonezilla image directory (what deploying it writes)" };
        var json = new Option<bool>("--json") { Description = "Machine-readable JSON" };
        var all = new Option<bool>("--all-extents") { Description = "List every extent (default: the first 20)" };
        var cmd = new Command("inspect", "Show a torrent's summary, block-image extents and trackers, or a Clonezilla image directory's disks and partitions") { torrentArg, json, all };
        cmd.SetAction(pr =>
        {
            try
            {
                if (ImageDirectorySource.IsImageDirectory(pr.GetValue(torrentArg)!))
                {
                    foreach (var line in ImageDirectorySource.DescribeDirectory(pr.GetValue(torrentArg)!)) ctx.Out.WriteLine(line);
                    return ExitCodes.Ok;
                }
                var t = Torrent.Load(pr.GetValue(torrentArg)!);
                BlockImageLayout? layout = BlockImageLayout.IsBlockImage(t) ? BlockImageLayout.Create(t) : null;
                if (pr.GetValue(json)) WriteJson(ctx.Out, t, layout);
                else WriteText(ctx.Out, t, layout, pr.GetValue(all));
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is TorrentException or IOException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }

    private static void WriteText(TextWriter o, Torrent t, BlockImageLayout? layout, bool allExtents)
    {
        o.WriteLine($"name          {t.Name}");
        o.WriteLine($"info-hash     {t.InfoHash.ToHex()}");
        o.WriteLine($"total         {SizeParser.Format(t.TotalLength)} ({t.TotalLength} bytes)");
        o.WriteLine($"pieces        {t.PieceCount} × {SizeParser.Format(t.PieceLength)}");
        o.WriteLine($"files         {t.Files.Length}");
        if (t.CreatedBy != null) o.WriteLine($"created by    {t.CreatedBy}");
        if (t.CreationDate is { } d) o.WriteLine($"created       {d:u}");
        if (t.Comment != null) o.WriteLine($"comment       {t.Comment}");
        if (t.IsPrivate) o.WriteLine("private       yes");
        o.WriteLine(t.TrackerTiers.Length == 0 ? "trackers      (none)" : "trackers");
        for (int i = 0; i < t.TrackerTiers.Length; i++)
            foreach (var u in t.TrackerTiers[i]) o.WriteLine($"  tier {i}  {u}");
        if (layout == null)
        {
            o.WriteLine("layout        plain files (not a block image)");
            return;
        }
        o.WriteLine($"layout        block image, needs a target of at least {SizeParser.Format(layout.RequiredDeviceSize)} ({layout.RequiredDeviceSize} bytes)");
        o.WriteLine("extents       offset               length");
        int shown = allExtents ? layout.Extents.Length : Math.Min(20, layout.Extents.Length);
        for (int i = 0; i < shown; i++)
            o.WriteLine($"  {i,6}  0x{layout.Extents[i].Offset:x14}  {layout.Extents[i].Length,12}");
        if (shown < layout.Extents.Length) o.WriteLine($"  ... {layout.Extents.Length - shown} more (--all-extents)");
    }

    private static void WriteJson(TextWriter o, Torrent t, BlockImageLayout? layout)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("infoHash", t.InfoHash.ToHex());
            w.WriteNumber("totalLength", t.TotalLength);
            w.WriteNumber("pieceLength", t.PieceLength);
            w.WriteNumber("pieceCount", t.PieceCount);
            w.WriteNumber("fileCount", t.Files.Length);
            if (t.CreatedBy != null) w.WriteString("createdBy", t.CreatedBy);
            if (t.CreationDate is { } d) w.WriteString("creationDate", d);
            w.WriteBoolean("private", t.IsPrivate);
            w.WriteStartArray("trackers");
            foreach (var tier in t.TrackerTiers)
            {
                w.WriteStartArray();
                foreach (var u in tier) w.WriteStringValue(u);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteBoolean("blockImage", layout != null);
            if (layout != null)
            {
                w.WriteNumber("requiredDeviceSize", layout.RequiredDeviceSize);
                w.WriteStartArray("extents");
                foreach (var e in layout.Extents)
                {
                    w.WriteStartObject();
                    w.WriteNumber("offset", e.Offset);
                    w.WriteNumber("length", e.Length);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
