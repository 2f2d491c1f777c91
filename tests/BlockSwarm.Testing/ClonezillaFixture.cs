using System.Diagnostics;
using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// Real Clonezilla image directories made by Clonezilla itself: a disk image on a loop device is partitioned, given
/// file systems with content (<see cref="ClonezillaFixtureDisks"/>), saved with <c>ocs-sr savedisk</c>, then restored
/// with <c>ocs-sr restoredisk</c> onto a second loop device filled with <see cref="FillByte"/> — the reference for what
/// a restore writes. Made once per machine and <see cref="Version"/> under /tmp (a file lock keeps parallel test
/// processes from making them twice), all kinds at once in parallel: Clonezilla mostly waits (sleeps, udev settles),
/// so two cores run three of them in about the time of one.
/// </summary>
public static class ClonezillaFixture
{
    /// <summary>Bump when the disks, the ocs-sr options or the files kept change: old caches are then ignored.</summary>
    public const string Version = "1";

    /// <summary>The restore target is filled with this before restoredisk runs: bytes still equal to it were not written.</summary>
    public const byte FillByte = 0xA5;

    /// <summary>What the fixture needs from the machine, for <see cref="RequiresAttribute"/> on tests that use it.</summary>
    public static readonly string[] Needs =
    [
        Need.Root, Need.LoopDevice, "ocs-sr", "partclone.extfs", "partclone.ntfs", "partclone.vfat", "partclone.dd",
        "parted", "sgdisk", "sfdisk", "partx", "pigz", "zstd", "mkfs.ext4", "mkfs.ntfs", "ntfs-3g", "mkfs.vfat", "mcopy", "mkswap",
    ];

    public static string CacheRoot { get; } = Path.Combine(Path.GetTempPath(), "blockswarm-clonezilla-fixtures", "v" + Version);

    private static readonly Lazy<IReadOnlyDictionary<ClonezillaFixtureKind, ClonezillaFixtureImage>> s_all = new(MakeAll);

    /// <summary>The image of <paramref name="kind"/>, made (with every other kind) on first use in this machine's /tmp.</summary>
    public static ClonezillaFixtureImage Get(ClonezillaFixtureKind kind)
    {
        Requires.All(Needs);
        return s_all.Value[kind];
    }

    private static IReadOnlyDictionary<ClonezillaFixtureKind, ClonezillaFixtureImage> MakeAll()
    {
        Directory.CreateDirectory(CacheRoot);
        using var lockFile = TakeLock(Path.Combine(CacheRoot, ".lock"));
        // One GPT source disk saved twice (zstd, gzip) and one MBR disk, made side by side.
        var made = Task.WhenAll(
            Task.Run(() => LoadOrMake("gpt", [ClonezillaFixtureKind.GptZstd, ClonezillaFixtureKind.GptGzip])),
            Task.Run(() => LoadOrMake("mbr", [ClonezillaFixtureKind.MbrGzip]))).GetAwaiter().GetResult();
        return made.SelectMany(m => m).ToDictionary(m => m.Kind);
    }

    /// <summary>One maker per machine: other test processes wait here (ten minutes is far more than a make takes).</summary>
    private static FileStream TakeLock(string path)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromMinutes(10)) { Thread.Sleep(200); }
        }
    }

    private static string ImageName(ClonezillaFixtureKind kind) => kind switch
    {
        ClonezillaFixtureKind.GptZstd => "bs-gpt-zst",
        ClonezillaFixtureKind.GptGzip => "bs-gpt-gz",
        _ => "bs-mbr-gz",
    };

    private static IEnumerable<ClonezillaFixtureImage> LoadOrMake(string disk, ClonezillaFixtureKind[] kinds)
    {
        var dir = Path.Combine(CacheRoot, disk);
        if (!File.Exists(Path.Combine(dir, "done"))) Make(kinds, dir);
        var diskName = File.ReadAllLines(Path.Combine(dir, "done"))[0];
        return kinds.Select(kind => new ClonezillaFixtureImage(kind, Path.Combine(dir, "ocsroot", ImageName(kind)), diskName,
            Path.Combine(dir, "source.img"), Path.Combine(dir, "restored.img"), File.ReadAllText(Path.Combine(dir, "sfdisk.json")),
            Path.Combine(dir, "content"), File.ReadAllLines(Path.Combine(dir, "timings.txt"))));
    }

    /// <summary>
    /// Makes the source disk of <paramref name="kinds"/> (which share one), saves it once per kind, and restores the
    /// first kind's image onto the filled target while the other saves run.
    /// </summary>
    private static void Make(ClonezillaFixtureKind[] kinds, string dir)
    {
        // Made beside the final place and renamed at the end: a crash never leaves a half-made fixture that looks done.
        var work = dir + ".tmp";
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(work);
        var timings = new List<string>();
        var total = Stopwatch.StartNew();
        var label = Path.GetFileName(dir);
        void Timed(string step, Action action)
        {
            var sw = Stopwatch.StartNew();
            action();
            lock (timings) timings.Add(string.Create(CultureInfo.InvariantCulture, $"{label} {step}: {sw.Elapsed.TotalSeconds:F1} s"));
        }

        var shim = OcsSr.MakeShims(work);
        var ocsroot = Path.Combine(work, "ocsroot");
        Directory.CreateDirectory(ocsroot);
        var size = ClonezillaFixtureDisks.SizeOf(kinds[0]);
        var source = Path.Combine(work, "source.img");
        var content = ContentTree.Random(Path.Combine(work, "content"), seed: 14, ("big.bin", 2_500_000), ("docs/readme.txt", 6000), ("etc/hostname", 12));
        using var loop = LoopDevice.Attach(FsImage.Blank(source, size));
        Timed("partition and fill the source disk", () => ClonezillaFixtureDisks.Make(kinds[0], loop.Path, content));
        File.WriteAllText(Path.Combine(work, "sfdisk.json"), Tool.Run("sfdisk", "-J", loop.Path).StdOut);
        var diskName = Path.GetFileName(loop.Path);
        void Save(ClonezillaFixtureKind kind)
        {
            var compression = kind == ClonezillaFixtureKind.GptZstd ? OcsSr.Zstd : OcsSr.Gzip;
            // Split every 1 MB (10^6 bytes), so these ~3 MB images come in several pieces.
            Timed($"ocs-sr savedisk {compression}", () => OcsSr.SaveDisk(shim, loop.Path, source, ocsroot, ImageName(kind), compression, splitMb: 1,
                Path.Combine(work, $"savedisk-{ImageName(kind)}.log")));
        }
        Save(kinds[0]);
        var restore = Task.Run(() => Restore(kinds[0], work, shim, ocsroot, size, Timed));
        foreach (var kind in kinds.Skip(1)) Save(kind);
        restore.GetAwaiter().GetResult();
        OcsSr.RemovePartitions(loop.Path);
        timings.Add(string.Create(CultureInfo.InvariantCulture, $"{label} total: {total.Elapsed.TotalSeconds:F1} s"));
        File.WriteAllLines(Path.Combine(work, "timings.txt"), timings);
        File.WriteAllText(Path.Combine(work, "done"), diskName + "\n");
        loop.Dispose();
        Directory.Move(work, dir);
    }

    private static void Restore(ClonezillaFixtureKind kind, string work, string shim, string ocsroot, long size, Action<string, Action> timed)
    {
        var restored = Path.Combine(work, "restored.img");
        timed("fill the restore target", () => Fill(restored, size));
        using var target = LoopDevice.Attach(restored);
        timed("ocs-sr restoredisk", () => OcsSr.RestoreDisk(shim, target.Path, restored, ocsroot, ImageName(kind), Path.Combine(work, "restoredisk.log")));
        target.FlushBuffers();
        OcsSr.RemovePartitions(target.Path);
    }

    private static void Fill(string path, long size)
    {
        var chunk = new byte[1 << 20];
        Array.Fill(chunk, FillByte);
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        for (long done = 0; done < size; done += chunk.Length) f.Write(chunk, 0, (int)Math.Min(chunk.Length, size - done));
    }
}
