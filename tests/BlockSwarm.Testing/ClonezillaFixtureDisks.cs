namespace BlockSwarm.Testing;

/// <summary>
/// The source disks <see cref="ClonezillaFixture"/> saves: partitioned by sfdisk, filled by the real mkfs tools with
/// fixed UUIDs and seeded content, plus bytes outside the partitions that a restore must bring back (boot code,
/// hidden data after the MBR) or must not (the gap after the GPT, space after the last partition). Its building blocks
/// (<see cref="Partition"/>, <see cref="Ext4"/>, <see cref="Ntfs"/>) also make the bench's larger Clonezilla disk.
/// </summary>
public static class ClonezillaFixtureDisks
{
    private const long MiB = 1 << 20;

    internal static long SizeOf(ClonezillaFixtureKind kind) => kind == ClonezillaFixtureKind.MbrGzip ? 64 * MiB : 128 * MiB;

    internal static void Make(ClonezillaFixtureKind kind, string loop, string content)
    {
        if (kind == ClonezillaFixtureKind.MbrGzip) MakeMbr(loop, content);
        else MakeGpt(loop, content);
    }

    private const string GptTable = """
        label: gpt
        label-id: 0B5A0B5A-1414-4C0E-9D1A-0000C10E2111
        start=2048, size=24MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=A1A1A1A1-0001-4000-8000-000000000001, name="root"
        size=16MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=A1A1A1A1-0002-4000-8000-000000000002, name="windows"
        size=40MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=A1A1A1A1-0003-4000-8000-000000000003, name="EFI system"
        size=8MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=A1A1A1A1-0004-4000-8000-000000000004, name="swap"

        """;

    private static void MakeGpt(string loop, string content)
    {
        Partition(loop, GptTable, 4);
        Ext4($"{loop}p1", "0e0e0e0e-1414-4000-8000-00000000e4e4", content);
        Ntfs($"{loop}p2", startSector: 51200, content);
        Tool.Run("mkfs.vfat", "-F", "32", "-i", "0B5A1414", "-n", "EFI", $"{loop}p3");
        Tool.Run("mcopy", ["-s", "-i", $"{loop}p3", .. Directory.GetFileSystemEntries(content), "::/"]);
        Tool.Run("mkswap", "-U", "5a5a5a5a-1414-4000-8000-00000000a5a5", "-L", "swapper", $"{loop}p4");
        BootCode(loop);
        // The gap between the GPT and the first partition, and space after the last one: a restore does not bring these back.
        Write(loop, 40 * 512, Seeded(3, 4096));
        Write(loop, 100 * MiB, Seeded(4, 65536));
    }

    private const string MbrTable = """
        label: dos
        label-id: 0x5eed1414
        start=2048, size=16MiB, type=83, bootable
        size=8MiB, type=da
        size=+, type=5
        size=16MiB, type=6
        size=8MiB, type=82

        """;

    private static void MakeMbr(string loop, string content)
    {
        Partition(loop, MbrTable, 6);
        Ext4($"{loop}p1", "0e0e0e0e-1414-4000-8000-0000000000e1", content);
        // No file system: savedisk falls back to partclone.dd (the whole partition, <part>.dd-ptcl-img.gz.aa…).
        Write($"{loop}p2", 0, Seeded(5, 3 << 20));
        Tool.Run("mkfs.vfat", "-F", "16", "-i", "5EED1414", "-n", "DATA", $"{loop}p5");
        Tool.Run("mcopy", ["-s", "-i", $"{loop}p5", .. Directory.GetFileSystemEntries(content), "::/"]);
        // No label: swappt-*.info then holds LABEL="".
        Tool.Run("mkswap", "-U", "5a5a5a5a-1414-4000-8000-0000000000a6", $"{loop}p6");
        BootCode(loop);
        // Hidden data between the MBR and the first partition (where GRUB puts core.img), saved and restored by -j2.
        Write(loop, 512, Seeded(6, 64 << 10));
        Write(loop, 2047 * 512, Seeded(7, 512));
        // Inside the extended partition, outside its logical ones: nothing saves or restores this.
        Write(loop, 104448L * 512, Seeded(8, 8192));
    }

    /// <summary>Boot code in the MBR's first 440 bytes (the disk signature and table after it are sfdisk's).</summary>
    private static void BootCode(string loop) => Write(loop, 0, Seeded(2, 440));

    /// <summary>Partitions the loop device <paramref name="loop"/> with an sfdisk script and makes its partition nodes up to <c>loopNp<paramref name="last"/></c>.</summary>
    public static void Partition(string loop, string script, int last)
    {
        Tool.Run("sfdisk", ["-q", "--no-reread", loop], stdin: script.ReplaceLineEndings("\n"));
        // The kernel here does not scan loop devices for partitions: partx adds loopNp1… for mkfs.
        Tool.Run("partx", "-a", loop);
        Eventually.Until(() => File.Exists($"{loop}p{last}"), TimeSpan.FromSeconds(10), $"{loop}p{last} to appear");
    }

    /// <summary>ext4 with a fixed UUID, hash seed and time on <paramref name="device"/>, filled from <paramref name="content"/> (<c>mkfs.ext4 -d</c>).</summary>
    public static void Ext4(string device, string uuid, string content, TimeSpan? timeout = null) =>
        Tool.Run("mkfs.ext4", ["-q", "-F", "-U", uuid, "-E", $"root_owner=0:0,hash_seed={uuid}", "-d", content, device],
            env: new Dictionary<string, string> { ["E2FSPROGS_FAKE_TIME"] = "1700000000" }, timeout: timeout);

    /// <summary>NTFS on the partition <paramref name="device"/> starting at disk sector <paramref name="startSector"/>, <paramref name="content"/> copied in through ntfs-3g.</summary>
    public static void Ntfs(string device, long startSector, string content)
    {
        // -p/-H/-S: the boot sector's geometry, which a loop partition cannot report.
        Tool.Run("mkfs.ntfs", "-f", "-F", "-q", "-L", "windows", "-p", startSector.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-H", "255", "-S", "63", device);
        FsImage.WithNtfsMounted(device, readOnly: false, mnt => Tool.Sh($"cp -r '{content}'/* '{mnt}'/ && sync"));
    }

    private static byte[] Seeded(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static void Write(string device, long offset, byte[] data)
    {
        using var f = new FileStream(device, FileMode.Open, FileAccess.Write);
        f.Position = offset;
        f.Write(data);
        f.Flush(flushToDisk: true);
    }
}
