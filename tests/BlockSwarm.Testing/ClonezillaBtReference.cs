using System.Diagnostics;
using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// Clonezilla's own BitTorrent torrents of an image, made by Clonezilla's own programs as its BitTorrent mode runs
/// them: <c>ocs-gen-bt-slices</c> (partclone <c>-r -T</c> into the btzone, one <c>PART.torrent.info</c> each), then
/// <c>gen-torrent-from-ptcl</c> with ocs-btsrv's arguments. Two changes, both outside what the torrents hold:
/// ocs-gen-bt-slices writes to /home/partimag/btzone (drbl-ocs.conf fixes it before <c>-or</c> is read), so it runs in
/// a private mount namespace with a tmpfs over /home; and gen-torrent-from-ptcl runs from a copy asking libtorrent for
/// a v1-only torrent (<c>flags=lt.create_torrent.v1_only</c> instead of <c>flags=0</c>): under Debian's libtorrent
/// 2.0, <c>flags=0</c> asks for a hybrid v1+v2 torrent, whose v2 hashes the script never sets ("missing or invalid
/// 'hash' entry"); libtorrent 1.2, which Clonezilla live ships, makes v1-only torrents with <c>flags=0</c>.
/// </summary>
public static class ClonezillaBtReference
{
    /// <summary>The announce URL the references are made with (ocs-btsrv passes <c>http://SERVER:PORT/announce</c>).</summary>
    public const string Tracker = "http://127.0.0.1:6969/announce";

    /// <summary>What making the references needs, for <see cref="RequiresAttribute"/>.</summary>
    public static readonly string[] Needs = [Need.Root, "unshare", "ocs-gen-bt-slices", "gen-torrent-from-ptcl", Need.PythonLibtorrent];

    /// <summary>The references of one image: each partition's torrent.info and .torrent, and how long Clonezilla took.</summary>
    public sealed record Set(string Directory, IReadOnlyDictionary<string, string> TorrentInfos, IReadOnlyDictionary<string, string> Torrents,
        double SlicesSeconds, double TorrentsSeconds);

    private static readonly Dictionary<string, Lazy<Set>> s_fixtures = [];

    /// <summary>
    /// The references of a <see cref="ClonezillaFixture"/> image, made once and kept beside the fixture
    /// (<c>…/gpt/bt-reference/bs-gpt-zst/</c>), which is never changed: ocs-gen-bt-slices only reads the image.
    /// </summary>
    public static Set ForFixture(ClonezillaFixtureImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Requires.All(Needs);
        Lazy<Set> lazy;
        lock (s_fixtures)
        {
            if (!s_fixtures.TryGetValue(image.ImageDirectory, out lazy!))
                s_fixtures[image.ImageDirectory] = lazy = new Lazy<Set>(() => LoadOrMake(image));
        }
        return lazy.Value;
    }

    private static Set LoadOrMake(ClonezillaFixtureImage image)
    {
        var ocsroot = Path.GetDirectoryName(image.ImageDirectory)!;
        var name = Path.GetFileName(image.ImageDirectory);
        var dir = Path.Combine(Path.GetDirectoryName(ocsroot)!, "bt-reference", name);
        if (!File.Exists(Path.Combine(dir, "done")))
        {
            var work = dir + "." + Environment.ProcessId + ".tmp";
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
            Directory.CreateDirectory(work);
            var sw = Stopwatch.StartNew();
            GenerateSlices(ocsroot, name, work);
            double slices = sw.Elapsed.TotalSeconds;
            sw.Restart();
            foreach (var info in Directory.GetFiles(work, "*.torrent.info"))
            {
                var part = Path.GetFileName(info)[..^".torrent.info".Length];
                // An empty torrent.info (a dd image) has no file for a torrent: gen-torrent-from-ptcl fails on it.
                if (File.ReadAllText(info).Contains("offset:", StringComparison.Ordinal))
                    GenerateTorrent(info, part, Path.Combine(work, part + ".torrent"));
            }
            File.WriteAllText(Path.Combine(work, "done"),
                string.Create(CultureInfo.InvariantCulture, $"{slices:F3}\n{sw.Elapsed.TotalSeconds:F3}\n"));
            try
            {
                Directory.Move(work, dir);
            }
            catch (IOException) when (File.Exists(Path.Combine(dir, "done")))
            {
                // Another test process made it first.
                Directory.Delete(work, recursive: true);
            }
        }
        var times = File.ReadAllLines(Path.Combine(dir, "done"));
        return new Set(dir,
            Directory.GetFiles(dir, "*.torrent.info").ToDictionary(f => Path.GetFileName(f)[..^".torrent.info".Length]),
            Directory.GetFiles(dir, "*.torrent").ToDictionary(f => Path.GetFileName(f)[..^".torrent".Length]),
            double.Parse(times[0], CultureInfo.InvariantCulture), double.Parse(times[1], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Runs <c>ocs-gen-bt-slices -or OCSROOT IMAGE</c> (every partition of the <c>parts</c> file) and copies the
    /// torrent.info files it leaves in the btzone to <paramref name="output"/>.
    /// </summary>
    public static void GenerateSlices(string ocsroot, string image, string output)
    {
        var log = Path.Combine(output, "ocs-gen-bt-slices.log");
        var script = $"""
            set -e
            mount -t tmpfs blockswarm-btzone /home
            /usr/sbin/ocs-gen-bt-slices -or '{ocsroot}' '{image}' < /dev/null > '{log}' 2>&1
            cp /home/partimag/btzone/'{image}'/*.torrent.info '{output}'/
            """;
        var env = new Dictionary<string, string> { ["LC_ALL"] = "C", ["TERM"] = "dumb", ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
        var r = Tool.Run("unshare", ["--mount", "--propagation", "private", "/bin/bash", "-c", script], check: false, env: env);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"ocs-gen-bt-slices of {image} failed ({r.ExitCode}): {r.StdErr}; see {log}");
    }

    /// <summary>
    /// What ocs-gen-bt-slices runs for one partclone image (ocs-functions, create_bt_image_files_from_partclone_img):
    /// <c>cat FILES | DECOMPRESS | partclone.FS -d -r -s - -T --buffer_size 16777216 -o DIR</c>; returns DIR/torrent.info.
    /// </summary>
    public static string PartcloneSlices(string decompressCommand, IEnumerable<string> files, string fs, string outputDir)
    {
        var cat = string.Join(' ', files.Select(f => $"'{f}'"));
        Tool.Sh($"set -o pipefail; cat {cat} | {decompressCommand} | LC_ALL=C partclone.{fs} -d -r -s - -T --buffer_size 16777216 -o '{outputDir}' > '{outputDir}.log' 2>&1");
        return Path.Combine(outputDir, "torrent.info");
    }

    /// <summary>
    /// ocs-btsrv's <c>gen-torrent-from-ptcl -p PART -t TRACKER -c Clonezilla -i PART.torrent.info -o PART.torrent</c>,
    /// from the v1-only copy; returns the torrent's bytes.
    /// </summary>
    public static byte[] GenerateTorrent(string torrentInfo, string partition, string output)
    {
        var script = V1OnlyScript();
        Tool.Run(Tool.SystemPython, script, "-p", partition, "-t", Tracker, "-c", "Clonezilla", "-i", torrentInfo, "-o", output);
        return File.ReadAllBytes(output);
    }

    private static readonly Lazy<string> s_script = new(() =>
    {
        const string original = "/usr/bin/gen-torrent-from-ptcl";
        var text = File.ReadAllText(original);
        const string call = "lt.create_torrent(fs, 16 * 1024 * 1024, flags=0)";
        int at = text.IndexOf(call, StringComparison.Ordinal);
        if (at < 0 || text.IndexOf(call, at + 1, StringComparison.Ordinal) >= 0)
            throw new InvalidOperationException($"{original} no longer calls '{call}' once: update the v1-only patch");
        var patched = text.Replace(call, "lt.create_torrent(fs, 16 * 1024 * 1024, flags=lt.create_torrent.v1_only)", StringComparison.Ordinal);
        // Named by its content: every test process shares one copy, and a changed original gets a new one.
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(patched)))[..16];
        var dir = Path.Combine(Path.GetTempPath(), "blockswarm-gen-torrent-from-ptcl");
        Directory.CreateDirectory(dir);
        var copy = Path.Combine(dir, $"v1-only-{hash}.py");
        if (!File.Exists(copy))
        {
            var tmp = $"{copy}.{Environment.ProcessId}.tmp";
            File.WriteAllText(tmp, patched);
            File.Move(tmp, copy, overwrite: true);
        }
        return copy;
    });

    /// <summary>A copy of Clonezilla's gen-torrent-from-ptcl that asks libtorrent for a v1-only torrent.</summary>
    public static string V1OnlyScript() => s_script.Value;
}
