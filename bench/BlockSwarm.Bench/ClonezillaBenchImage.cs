using System.Diagnostics;
using System.Globalization;
using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// The <c>clonezilla</c> bench's image directories, made once by Clonezilla itself and cached: a 4 GiB GPT disk on a loop
/// device with an ext4 partition (3000 MiB) holding 1.5 GiB of files — a third random (media: incompressible), the rest
/// text-like (<see cref="ContentTree.Text"/>) and real files copied from /usr — and an NTFS partition (900 MiB) holding
/// 256 MiB (half random, half text), saved by <c>ocs-sr savedisk</c> twice: zstd (<c>-z9p</c>) and gzip (<c>-z1p</c>,
/// pigz), split every <see cref="SplitMb"/> MB as <c>-i</c> does. The disk itself is not kept (the bench's raw image is a
/// fetch of the job, every piece verified).
/// </summary>
public sealed class ClonezillaBenchImage
{
    /// <summary>Bump when the disk, its content or the ocs-sr options change: an older cache is then rebuilt.</summary>
    public const string Version = "1";

    public const long DiskBytes = 4096L << 20;
    public const int SplitMb = 500;
    private const long MiB = 1 << 20;

    private const string Table = """
        label: gpt
        label-id: 0B5A0B5A-1414-4C0E-9D1A-00000BE4C400
        start=2048, size=3000MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=B1B1B1B1-0001-4000-8000-000000000001, name="root"
        size=900MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=B1B1B1B1-0002-4000-8000-000000000002, name="windows"

        """;

    private const long NtfsStartSector = 2048 + 3000 * 2048;

    private ClonezillaBenchImage(string root, IReadOnlyList<string> timings)
    {
        Root = root;
        Timings = timings;
    }

    /// <summary>The ocsroot: the image directories <see cref="ZstdDirectory"/> and <see cref="GzipDirectory"/>.</summary>
    public string Root { get; }

    public string ZstdDirectory => Path.Combine(Root, "bench-zst");

    public string GzipDirectory => Path.Combine(Root, "bench-gz");

    /// <summary>How long each step of the build took (when it was built).</summary>
    public IReadOnlyList<string> Timings { get; }

    public static ClonezillaBenchImage Ensure(string cache, TextWriter log)
    {
        var root = Path.Combine(cache, "ocsroot-v" + Version);
        var done = Path.Combine(root, "done");
        if (File.Exists(done)) return new ClonezillaBenchImage(root, File.ReadAllLines(done));
        Requires.All(ClonezillaFixture.Needs);
        // Made beside its final place and renamed at the end: an interrupted build never looks done.
        var work = root + ".tmp";
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(work);
        var timings = new List<string>();
        void Timed(string step, Action action)
        {
            log.WriteLine($"  {step} ...");
            var sw = Stopwatch.StartNew();
            action();
            timings.Add(string.Create(CultureInfo.InvariantCulture, $"{step}: {sw.Elapsed.TotalSeconds:F0} s"));
        }

        log.WriteLine($"building the Clonezilla image directories in {root} (once; several minutes) ...");
        string ext4Content = Path.Combine(work, "content-ext4"), ntfsContent = Path.Combine(work, "content-ntfs");
        Timed("content: 1.5 GiB for ext4, 256 MiB for NTFS", () =>
        {
            ContentTree.Random(Path.Combine(ext4Content, "media"), 1401, Enumerable.Range(0, 32).Select(i => ($"clip{i:00}.bin", (int)(16 * MiB))));
            ContentTree.Text(Path.Combine(ext4Content, "var"), 1402, Enumerable.Range(0, 80).Select(i => ($"log/app{i:00}.log", 8 * MiB)));
            ContentTree.FromUsr(Path.Combine(ext4Content, "usr"), 384 * MiB);
            ContentTree.Random(Path.Combine(ntfsContent, "Media"), 1403, Enumerable.Range(0, 8).Select(i => ($"clip{i}.bin", (int)(16 * MiB))));
            ContentTree.Text(Path.Combine(ntfsContent, "Documents"), 1404, Enumerable.Range(0, 16).Select(i => ($"report{i:00}.txt", 8 * MiB)));
        });

        var source = Path.Combine(work, "source.img");
        var shim = OcsSr.MakeShims(work);
        var ocsroot = Path.Combine(work, "ocsroot");
        Directory.CreateDirectory(ocsroot);
        using (var loop = LoopDevice.Attach(FsImage.Blank(source, DiskBytes)))
        {
            try
            {
                Timed("partition, mkfs.ext4 -d, mkfs.ntfs + copy", () =>
                {
                    ClonezillaFixtureDisks.Partition(loop.Path, Table, 2);
                    ClonezillaFixtureDisks.Ext4($"{loop.Path}p1", "0e0e0e0e-1414-4000-8000-0000000be4c4", ext4Content, TimeSpan.FromMinutes(30));
                    ClonezillaFixtureDisks.Ntfs($"{loop.Path}p2", NtfsStartSector, ntfsContent);
                });
                Directory.Delete(ext4Content, recursive: true);
                Directory.Delete(ntfsContent, recursive: true);
                foreach (var (name, compression) in new[] { ("bench-zst", OcsSr.Zstd), ("bench-gz", OcsSr.Gzip) })
                    Timed($"ocs-sr savedisk {compression} -i {SplitMb}", () => OcsSr.SaveDisk(shim, loop.Path, source, ocsroot, name, compression, SplitMb,
                        Path.Combine(work, $"savedisk-{name}.log"), TimeSpan.FromHours(1)));
            }
            finally
            {
                OcsSr.RemovePartitions(loop.Path);
            }
        }
        File.Delete(source);
        File.WriteAllLines(Path.Combine(ocsroot, "done"), timings);
        foreach (var l in Directory.GetFiles(work, "*.log")) File.Move(l, Path.Combine(ocsroot, Path.GetFileName(l)));
        Directory.Move(ocsroot, root);
        Directory.Delete(work, recursive: true);
        return new ClonezillaBenchImage(root, timings);
    }
}
