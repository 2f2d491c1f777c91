using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>One partition of a Clonezilla BitTorrent image: its slices, partclone's torrent.info, its torrent and tracker.</summary>
/// <param name="Name">The partition's name, as Clonezilla names torrents and slice directories (<c>sda1</c>).</param>
/// <param name="Source">The partition the image was saved from (an image file here).</param>
/// <param name="SliceDir"><c>btzone/IMG/NAME</c>: partclone's <c>-T</c> slices, one file per used run, named by 32-hex offset.</param>
/// <param name="TorrentInfo"><c>btzone/IMG/NAME.torrent.info</c>: partclone's run list and piece hashes.</param>
public sealed record BtPartition(string Name, string Fs, string Source, string PartcloneImage, string SliceDir, string TorrentInfo)
{
    /// <summary><c>btzone/IMG/NAME.torrent</c>, once <see cref="ClonezillaBtZone.MakeTorrent"/> made it.</summary>
    public string Torrent => Path.Combine(Path.GetDirectoryName(SliceDir)!, Name + ".torrent");
}

/// <summary>
/// Clonezilla's BitTorrent layout, made with the tools and the commands Clonezilla runs (clonezilla's ocs-functions,
/// ocs-gen-bt-slices, ocs-btsrv, drbl-ocs.conf):
/// <list type="bullet">
/// <item>savedisk: <c>partclone.FS -c -s /dev/sda1 -o - | zstd</c> into <c>IMG/sda1.FS-ptcl-img.zst</c>;</item>
/// <item>ocs-gen-bt-slices (<c>partclone_make_slice_opt=extract</c>): <c>zstd -dc IMG/… | partclone.FS -d -r -s - -T
/// --buffer_size 16777216 -o btzone/IMG/sda1</c>, then <c>btzone/IMG/sda1/torrent.info</c> moved to
/// <c>btzone/IMG/sda1.torrent.info</c> so it is not part of the torrent;</item>
/// <item>ocs-btsrv: the metainfo from torrent.info (EZIO's partclone_create_torrent.py: one file <c>sda1/OFFSET</c> per
/// run, 16 MiB pieces, v1; here BlockSwarm's <c>create --map partclone:INFO --clonezilla</c>, which gives the same
/// info-hash), and one opentracker per partition on port 6969, 6971, … with the torrent's info-hash whitelisted,
/// chrooted into <c>btzone/IMG</c>.</item>
/// </list>
/// </summary>
public static class ClonezillaBtZone
{
    /// <summary>Clonezilla's bt_buffer_size: partclone cuts slices, and torrent.info hashes pieces, at 16 MiB.</summary>
    public const int BufferSize = 16 << 20;

    /// <summary>The partclone program Clonezilla runs for a file system name (as in <c>sda1.ext4-ptcl-img</c>).</summary>
    public static string PartcloneFor(string fs) => "partclone." + fs;

    /// <summary>
    /// Saves <paramref name="source"/> as savedisk does (partclone image, zstd) into <paramref name="imageDir"/>, then
    /// extracts its slices into <paramref name="btImageDir"/> as ocs-gen-bt-slices does.
    /// </summary>
    public static BtPartition Prepare(string name, string fs, string source, string imageDir, string btImageDir)
    {
        var partclone = PartcloneFor(fs);
        Requires.Tools(partclone, "zstd");
        Directory.CreateDirectory(imageDir);
        Directory.CreateDirectory(btImageDir);
        var image = Path.Combine(imageDir, $"{name}.{fs}-ptcl-img.zst");
        Tool.Sh($"set -o pipefail; {partclone} -c -s '{source}' -o - -L '{image}.log' 2>/dev/null | zstd -q -c -T0 > '{image}'");
        var slices = Path.Combine(btImageDir, name);
        var buffer = BufferSize.ToString(CultureInfo.InvariantCulture);
        Tool.Sh($"set -o pipefail; zstd -q -dc '{image}' | LC_ALL=C {partclone} -d -r -s - -T --buffer_size {buffer} -o '{slices}' -L '{slices}.log' >/dev/null 2>&1");
        var info = Path.Combine(btImageDir, name + ".torrent.info");
        File.Move(Path.Combine(slices, "torrent.info"), info, overwrite: true);
        File.Delete(slices + ".log");
        return new BtPartition(name, fs, source, image, slices, info);
    }

    /// <summary>
    /// The partition's torrent from its torrent.info (<c>blockswarm create --map partclone:INFO --clonezilla</c>), announcing to
    /// <paramref name="tracker"/>; returns the info-hash.
    /// </summary>
    public static string MakeTorrent(string cli, BtPartition p, string tracker)
    {
        var (file, args) = CliCommand.For(cli, ["create", "--source", p.Source, "--map", "partclone:" + p.TorrentInfo, "--clonezilla",
            "--name", p.Name, "--tracker", tracker, "--output", p.Torrent]);
        var r = Tool.Run(file, args, timeout: TimeSpan.FromMinutes(10));
        var line = r.StdOut.Split('\n').First(l => l.StartsWith("info-hash", StringComparison.Ordinal));
        return line["info-hash".Length..].Trim();
    }

    /// <summary>
    /// opentracker as ocs-btsrv starts it (<c>opentracker -p PORT -d btzone/IMG -w /whitelist.txt</c>), bound to
    /// <paramref name="ip"/> (TCP and UDP on <paramref name="port"/>) and with its own whitelist file, so the trackers
    /// of several partitions sharing one directory cannot read each other's list while starting.
    /// </summary>
    public static ProcessSpec OpenTracker(string ip, int port, string btImageDir, string name, IEnumerable<string> infoHashes)
    {
        Requires.Tools("opentracker");
        var whitelist = $"{name}.whitelist.txt";
        File.WriteAllLines(Path.Combine(btImageDir, whitelist), infoHashes);
        // As root opentracker chroots into the directory and becomes nobody before it reads the whitelist.
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(btImageDir, (UnixFileMode)Convert.ToInt32("755", 8));
            File.SetUnixFileMode(Path.Combine(btImageDir, whitelist), (UnixFileMode)Convert.ToInt32("644", 8));
        }
        var p = port.ToString(CultureInfo.InvariantCulture);
        return new ProcessSpec("opentracker", "-i", ip, "-p", p, "-P", p, "-d", btImageDir, "-w", "/" + whitelist) { Label = "opentracker " + name };
    }
}
