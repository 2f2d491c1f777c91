using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

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

        var shim = MakeShims(work);
        var ocsroot = Path.Combine(work, "ocsroot");
        Directory.CreateDirectory(ocsroot);
        var size = ClonezillaFixtureDisks.SizeOf(kinds[0]);
        var source = Path.Combine(work, "source.img");
        var content = ContentTree.Random(Path.Combine(work, "content"), seed: 14, ("big.bin", 2_500_000), ("docs/readme.txt", 6000), ("etc/hostname", 12));
        using var loop = LoopDevice.Attach(FsImage.Blank(source, size));
        Timed("partition and fill the source disk", () => ClonezillaFixtureDisks.Make(kinds[0], loop.Path, content));
        File.WriteAllText(Path.Combine(work, "sfdisk.json"), Tool.Run("sfdisk", "-J", loop.Path).StdOut);
        var diskName = CheckedLoopName(loop.Path, source);
        void Save(ClonezillaFixtureKind kind)
        {
            var compression = kind == ClonezillaFixtureKind.GptZstd ? "-z9p" : "-z1p";
            // -i 1: split every 1 MB (10^6 bytes), so these ~3 MB images come in several pieces; -scs: no restorability check (7 s).
            Timed($"ocs-sr savedisk {compression}", () => OcsSr(shim, Path.Combine(work, $"savedisk-{ImageName(kind)}.log"),
                ["-b", "-nogui", "-q2", "-j2", compression, "-i", "1", "-sfsck", "-scs", "-senc", "-p", "true", "-or", ocsroot, "savedisk", ImageName(kind), diskName]));
            var image = Path.Combine(ocsroot, ImageName(kind));
            if (!File.Exists(Path.Combine(image, "parts")) || !File.Exists(Path.Combine(image, diskName + "-pt.sf")))
                throw new InvalidOperationException($"ocs-sr savedisk left no complete image in {image}; see {work}/savedisk-{ImageName(kind)}.log");
        }
        Save(kinds[0]);
        var restore = Task.Run(() => Restore(kinds[0], work, shim, ocsroot, size, Timed));
        foreach (var kind in kinds.Skip(1)) Save(kind);
        restore.GetAwaiter().GetResult();
        RemovePartitions(loop.Path);
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
        var targetName = CheckedLoopName(target.Path, restored);
        // Clonezilla's restore with its after-restore changes off: no grub (-g), no NTFS geometry fix (-e1), no resize
        // (-r), no NTFS dirty-flag removal (-irvd), no udev/hardware record removal (-irhr), no syslinux (-ius) or
        // initramfs (-iui) update, no EFI NVRAM entry (-iefi), no restorability check (-scr); -j2: hidden data after the MBR.
        timed("ocs-sr restoredisk", () => OcsSr(shim, Path.Combine(work, "restoredisk.log"),
            ["-b", "-nogui", "-j2", "-irvd", "-irhr", "-ius", "-iui", "-iefi", "-scr", "-p", "true", "-or", ocsroot, "restoredisk", ImageName(kind), targetName]));
        target.FlushBuffers();
        RemovePartitions(target.Path);
    }

    /// <summary>
    /// The device is a loop device (never a real disk) and backed by the file this fixture made: checked before every
    /// ocs-sr call, which would overwrite whatever it is given. Returns its name without /dev/.
    /// </summary>
    private static string CheckedLoopName(string device, string backingFile)
    {
        var m = Regex.Match(device, @"^/dev/(loop\d+)$");
        if (!m.Success) throw new InvalidOperationException($"{device} is not a loop device: refusing to run ocs-sr on it");
        var back = Tool.Run("losetup", "-n", "-O", "BACK-FILE", device).StdOut.Trim();
        if (back != Path.GetFullPath(backingFile))
            throw new InvalidOperationException($"{device} is backed by '{back}', not by {backingFile}: refusing to run ocs-sr on it");
        return m.Groups[1].Value;
    }

    private static void OcsSr(string shim, string log, string[] args)
    {
        var env = new Dictionary<string, string>
        {
            ["PATH"] = shim + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["LC_ALL"] = "C",
            ["TERM"] = "dumb",
        };
        // stdin is an empty pipe: a failing ocs-sr that asks to "press Enter" reads end-of-file instead of hanging.
        var r = Tool.Run("/usr/sbin/ocs-sr", args, check: false, stdin: "", env: env);
        File.WriteAllText(log, r.StdOut + "\n--- stderr ---\n" + r.StdErr);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{r.CommandLine} exited {r.ExitCode}; see {log}");
    }

    /// <summary>
    /// Stand-ins put first on ocs-sr's PATH. <c>sleep</c>: Clonezilla sleeps 1-2 s dozens of times waiting for udev, which
    /// loop devices and partprobe do not need. <c>ocs-prep-cache</c>: only feeds interactive device menus, yet scans every
    /// disk and partition on the machine (25 s with other tests' loop devices about); batch mode with named devices never reads it.
    /// </summary>
    private static string MakeShims(string work)
    {
        var shim = Path.Combine(work, "shim");
        Directory.CreateDirectory(shim);
        File.WriteAllText(Path.Combine(shim, "sleep"), "#!/bin/sh\nexec /usr/bin/sleep 0.05\n");
        File.WriteAllText(Path.Combine(shim, "ocs-prep-cache"), "#!/bin/sh\nexit 0\n");
        Tool.Run("chmod", ["755", .. Directory.GetFiles(shim)]);
        return shim;
    }

    /// <summary>Drops the partition devices partx/partprobe added, so detaching leaves no stale loopNpM behind.</summary>
    private static void RemovePartitions(string device) => Tool.Run("partx", ["-d", device], check: false);

    private static void Fill(string path, long size)
    {
        var chunk = new byte[1 << 20];
        Array.Fill(chunk, FillByte);
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        for (long done = 0; done < size; done += chunk.Length) f.Write(chunk, 0, (int)Math.Min(chunk.Length, size - done));
    }
}
