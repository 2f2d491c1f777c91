using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>
/// The images of <c>blockswarm-lab bench</c>, on tmpfs under <paramref name="root"/>:
/// <list type="bullet">
/// <item><c>random</c>: random bytes, every byte sent (made anew each run);</item>
/// <item><c>ext4</c>: an ext4 about half full of random files (made anew each run);</item>
/// <item><c>os-ext4</c>, <c>os-ntfs</c>: a real OS tree, a spread sample of this machine's /usr, as ext4 (mkfs.ext4 -d) and
/// as NTFS (mkfs.ntfs, copied in through ntfs-3g), built once and kept under <paramref name="cache"/>
/// (<c>os-MIBmib/</c>), copied to tmpfs for each run.</item>
/// </list>
/// Each comes with its BlockSwarm torrent (a block image: used blocks only, except random), its used data as one stream
/// (F bytes: what multicast sends) and that stream compressed with <c>zstd -3</c> (Z bytes; kept in the cache too).
/// </summary>
internal sealed class LabImages(string root, string cache, Action<string> log)
{
    public static readonly string[] Kinds = ["random", "ext4", "os-ext4", "os-ntfs"];

    private (string Tree, int Files, long Bytes)? _osTree;

    /// <summary>The image of kind <paramref name="kind"/> (one of <see cref="Kinds"/>) with its sizes in MiB.</summary>
    public LabImage Make(string kind, int randomMib, int ext4Mib, int osMib) => kind switch
    {
        "random" => Random(randomMib),
        "ext4" => Ext4(ext4Mib),
        "os-ext4" => Os("ext4", osMib),
        "os-ntfs" => Os("ntfs", osMib),
        _ => throw new ArgumentException($"unknown image '{kind}' (known: {string.Join(", ", Kinds)})", nameof(kind)),
    };

    /// <summary>Deletes the OS tree copied for this run's image builds (tmpfs is memory).</summary>
    public void DeleteScratch()
    {
        if (_osTree is { } os && Directory.Exists(os.Tree)) Directory.Delete(os.Tree, recursive: true);
        _osTree = null;
    }

    private LabImage Random(int mib)
    {
        var dir = Path.Combine(root, "plain");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "random.img");
        using (var f = File.Create(path))
        {
            var buf = new byte[1 << 20];
            for (int i = 0; i < mib; i++) { RandomNumberGenerator.Fill(buf); f.Write(buf); }
        }
        log($"random image: {mib} MiB");
        return Finish("random", path, dir, "all");
    }

    /// <summary>An ext4 filesystem about half full of random files; BlockSwarm sends only its used blocks.</summary>
    private LabImage Ext4(int mib)
    {
        var tree = ContentTree.Random(Path.Combine(root, "ext4-tree"), mib, Enumerable.Range(0, mib / 2 / 4).Select(i => ($"file{i:000}.bin", 4 << 20)));
        var path = FsImage.Ext4(Path.Combine(root, "ext4.img"), (long)mib << 20, tree, ["-b", "4096"]);
        Directory.Delete(tree, recursive: true);
        log($"ext4 image: {mib} MiB, half full");
        return Finish("ext4", path, null, "auto");
    }

    /// <summary>
    /// <paramref name="osMib"/> MiB of /usr's files in a file system of type <paramref name="fs"/> (ext4 or ntfs) with a
    /// quarter of room to spare; from the cache when it was built before.
    /// </summary>
    private LabImage Os(string fs, int osMib)
    {
        var kind = "os-" + fs;
        var dir = Path.Combine(cache, string.Create(CultureInfo.InvariantCulture, $"os-{osMib}mib"));
        var cached = Path.Combine(dir, kind + ".img");
        if (File.Exists(cached)) log($"{kind} image: cached {cached}");
        else
        {
            Directory.CreateDirectory(dir);
            var (tree, files, bytes) = OsTree(osMib);
            // Each file takes whole 4 KiB blocks (and an inode or an MFT record): room for that, a quarter more, and the journal.
            long size = ((long)((bytes + files * 4096L) * 1.25) + (64L << 20)) >> 20 << 20;
            var building = cached + ".tmp";
            if (fs == "ext4") FsImage.Ext4(building, size, tree, ["-b", "4096"]);
            else FsImage.Ntfs(building, size, tree);
            File.Move(building, cached, overwrite: true);
            log($"{kind} image: {size >> 20} MiB {fs} holding {files} files, {bytes >> 20} MiB from /usr; kept as {cached}");
        }
        var path = Path.Combine(root, kind + ".img");
        Tool.Run("cp", ["--sparse=always", cached, path], timeout: TimeSpan.FromMinutes(10));
        return Finish(kind, path, null, "auto", cached);
    }

    /// <summary>The spread sample of /usr both OS images hold, copied to tmpfs once per run.</summary>
    private (string Tree, int Files, long Bytes) OsTree(int osMib)
    {
        if (_osTree is { } made) return made;
        var tree = Path.Combine(root, "os-tree");
        if (Directory.Exists(tree)) Directory.Delete(tree, recursive: true);
        var (files, bytes) = ContentTree.FromUsr(tree, (long)osMib << 20, spread: true);
        _osTree = (tree, files, bytes);
        return (tree, files, bytes);
    }

    /// <summary>
    /// The torrent (<c>blockswarm create --map MAP</c>), a plain one-file torrent of the same data for standard clients when
    /// <paramref name="plainDir"/> is given, the used data as one stream and its zstd -3 stream (for an image copied from
    /// <paramref name="cachedImage"/>: kept beside it, and taken from there while newer than it).
    /// </summary>
    private LabImage Finish(string kind, string path, string? plainDir, string map, string? cachedImage = null)
    {
        var torrent = Path.Combine(root, kind + ".torrent");
        var (createFile, createArgs) = CliCommand.For(LabNetwork.Cli, ["create", "--source", path, "--map", map, "--output", torrent]);
        Tool.Run(createFile, createArgs, timeout: TimeSpan.FromMinutes(10));
        var (inspectFile, inspectArgs) = CliCommand.For(LabNetwork.Cli, ["inspect", torrent, "--json"]);
        var info = JsonNode.Parse(Tool.Run(inspectFile, inspectArgs).StdOut)!;
        long payload = (long)info["totalLength"]!;
        long piece = (long)info["pieceLength"]!;
        string? plain = null;
        if (plainDir != null)
        {
            // Same data, same piece size, another info-hash: standard clients get their own swarm on our tracker.
            plain = Path.Combine(root, kind + "-plain.torrent");
            LtScript.Create(path, plain, piece, $"http://{LabNetwork.Subnet}.1:8080/announce");
        }
        var used = map == "all" ? path : WriteUsed(torrent, path, Path.Combine(root, kind + ".used"));
        if (new FileInfo(used).Length != payload) throw new InvalidOperationException($"{used}: {new FileInfo(used).Length} bytes, the torrent says {payload}");
        var zst = Path.Combine(root, kind + ".used.zst");
        var cachedZst = cachedImage == null ? null : Path.ChangeExtension(cachedImage, ".used.zst");
        if (cachedZst != null && File.Exists(cachedZst) && File.GetLastWriteTimeUtc(cachedZst) >= File.GetLastWriteTimeUtc(cachedImage!))
            File.Copy(cachedZst, zst, overwrite: true);
        else
        {
            Tool.Run("zstd", ["-3", "-q", "-f", used, "-o", zst], timeout: TimeSpan.FromMinutes(30));
            if (cachedZst != null)
            {
                File.Copy(zst, cachedZst + ".tmp", overwrite: true);
                File.Move(cachedZst + ".tmp", cachedZst, overwrite: true);
            }
        }
        long z = new FileInfo(zst).Length;
        log(string.Create(CultureInfo.InvariantCulture,
            $"  {kind}: F = {payload} bytes ({payload / 1048576.0:0.0} MiB) of used data in {(long)info["pieceCount"]!} pieces of {piece >> 10} KiB; Z = {z} bytes with zstd -3 ({z / 1048576.0:0.0} MiB, F/Z = {payload / (double)z:0.00})"));
        return new LabImage(kind, path, torrent, payload, new FileInfo(path).Length, plain, plainDir ?? Path.GetDirectoryName(path)!)
        {
            UsedPath = used,
            CompressedPath = zst,
            CompressedBytes = z,
        };
    }

    /// <summary>The block-image torrent's extents of <paramref name="image"/>, one after another, in <paramref name="to"/>: the torrent's payload.</summary>
    private static string WriteUsed(string torrent, string image, string to)
    {
        var layout = BlockImageLayout.Create(Torrent.Load(torrent));
        using var src = File.OpenRead(image);
        using var dst = File.Create(to);
        foreach (var e in layout.Map.Extents) FsImage.CopyRange(src, e.Offset, e.Length, dst, image);
        return to;
    }
}
