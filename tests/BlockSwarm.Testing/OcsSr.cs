using System.Globalization;
using System.Text.RegularExpressions;

namespace BlockSwarm.Testing;

/// <summary>
/// Clonezilla's own <c>ocs-sr</c> in batch mode on loop devices, as <see cref="ClonezillaFixture"/> and the bench's
/// <c>clonezilla</c> image drive it: <see cref="SaveDisk"/> writes a real image directory, <see cref="RestoreDisk"/>
/// restores one with the after-restore changes off. Every call first checks the device is a loop device backed by the
/// file the caller made (ocs-sr overwrites whatever it is given), and runs with <see cref="MakeShims"/> first on PATH.
/// </summary>
public static class OcsSr
{
    /// <summary>ocs-sr's compression option for a <c>.zst</c> image (zstdmt).</summary>
    public const string Zstd = "-z9p";

    /// <summary>ocs-sr's compression option for a <c>.gz</c> image (pigz).</summary>
    public const string Gzip = "-z1p";

    /// <summary>
    /// Stand-ins put first on ocs-sr's PATH, in <c>WORK/shim</c>. <c>sleep</c>: Clonezilla sleeps 1-2 s dozens of times
    /// waiting for udev, which loop devices and partprobe do not need. <c>ocs-prep-cache</c>: only feeds interactive
    /// device menus, yet scans every disk and partition on the machine (25 s with other tests' loop devices about);
    /// batch mode with named devices never reads it. Returns the directory.
    /// </summary>
    public static string MakeShims(string work)
    {
        var shim = Path.Combine(work, "shim");
        Directory.CreateDirectory(shim);
        File.WriteAllText(Path.Combine(shim, "sleep"), "#!/bin/sh\nexec /usr/bin/sleep 0.05\n");
        File.WriteAllText(Path.Combine(shim, "ocs-prep-cache"), "#!/bin/sh\nexit 0\n");
        Tool.Run("chmod", ["755", .. Directory.GetFiles(shim)]);
        return shim;
    }

    /// <summary>
    /// <c>ocs-sr savedisk</c> of <paramref name="device"/> (a loop device over <paramref name="backingFile"/>) into
    /// <c>OCSROOT/IMAGE</c>: <paramref name="compression"/> (<see cref="Zstd"/>, <see cref="Gzip"/>, …), split every
    /// <paramref name="splitMb"/> MB (10^6 bytes), no file system check, no restorability check (-scs), no encryption;
    /// its output in <paramref name="log"/>. Throws unless the image directory came out complete.
    /// </summary>
    public static string SaveDisk(string shim, string device, string backingFile, string ocsroot, string image, string compression, int splitMb,
        string log, TimeSpan? timeout = null)
    {
        var diskName = CheckedLoopName(device, backingFile);
        Run(shim, log, ["-b", "-nogui", "-q2", "-j2", compression, "-i", splitMb.ToString(CultureInfo.InvariantCulture), "-sfsck", "-scs", "-senc",
            "-p", "true", "-or", ocsroot, "savedisk", image, diskName], timeout);
        var dir = Path.Combine(ocsroot, image);
        if (!File.Exists(Path.Combine(dir, "parts")) || !File.Exists(Path.Combine(dir, diskName + "-pt.sf")))
            throw new InvalidOperationException($"ocs-sr savedisk left no complete image in {dir}; see {log}");
        return dir;
    }

    /// <summary>
    /// <c>ocs-sr restoredisk</c> of <c>OCSROOT/IMAGE</c> onto <paramref name="device"/> (a loop device over
    /// <paramref name="backingFile"/>) with its after-restore changes off: no grub (-g), no NTFS geometry fix (-e1), no
    /// resize (-r), no NTFS dirty-flag removal (-irvd), no udev/hardware record removal (-irhr), no syslinux (-ius) or
    /// initramfs (-iui) update, no EFI NVRAM entry (-iefi), no restorability check (-scr); -j2: hidden data after the MBR.
    /// </summary>
    public static void RestoreDisk(string shim, string device, string backingFile, string ocsroot, string image, string log, TimeSpan? timeout = null)
    {
        var targetName = CheckedLoopName(device, backingFile);
        Run(shim, log, ["-b", "-nogui", "-j2", "-irvd", "-irhr", "-ius", "-iui", "-iefi", "-scr", "-p", "true", "-or", ocsroot, "restoredisk", image, targetName], timeout);
    }

    /// <summary>Drops the partition devices partx/partprobe added, so detaching leaves no stale loopNpM behind.</summary>
    public static void RemovePartitions(string device) => Tool.Run("partx", ["-d", device], check: false);

    /// <summary>
    /// The device is a loop device (never a real disk) and backed by the file the caller made: checked before every
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

    private static void Run(string shim, string log, string[] args, TimeSpan? timeout)
    {
        var env = new Dictionary<string, string>
        {
            ["PATH"] = shim + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["LC_ALL"] = "C",
            ["TERM"] = "dumb",
        };
        // stdin is an empty pipe: a failing ocs-sr that asks to "press Enter" reads end-of-file instead of hanging.
        var r = Tool.Run("/usr/sbin/ocs-sr", args, check: false, stdin: "", env: env, timeout: timeout);
        File.WriteAllText(log, r.StdOut + "\n--- stderr ---\n" + r.StdErr);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{r.CommandLine} exited {r.ExitCode}; see {log}");
    }
}
