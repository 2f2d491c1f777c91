using BlockSwarm.Deploy.Client;
using BlockSwarm.Testing;

namespace BlockSwarm.Deploy.Tests;

public sealed class TargetGuardTests
{
    private readonly TargetGuard _guard = new();

    [Fact]
    public void Missing_directory_and_plain_file_targets_are_refused()
    {
        using var dir = new TempDirectory("guard");
        Assert.Contains("does not exist", Assert.Throws<TargetRefusedException>(() => _guard.Check(dir.File("nope"), 1, false)).Message);
        Assert.Contains("is a directory", Assert.Throws<TargetRefusedException>(() => _guard.Check(dir.Path, 1, false)).Message);
        var file = dir.File("img");
        File.WriteAllBytes(file, new byte[4096]);
        Assert.Contains("--allow-file", Assert.Throws<TargetRefusedException>(() => _guard.Check(file, 1, false)).Message);
        Assert.Contains("needs 8192", Assert.Throws<TargetRefusedException>(() => _guard.Check(file, 8192, true)).Message);
        Assert.False(_guard.Check(file, 4096, true).IsBlockDevice);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice)]
    public void Loop_device_is_accepted_when_free_and_refused_when_mounted_or_too_small()
    {
        using var dir = new TempDirectory("guard-loop");
        var img = FsImage.Ext4(dir.File("disk.img"), 32 << 20);
        using var loop = LoopDevice.Attach(img);
        var info = _guard.Check(loop.Path, 16 << 20, allowFile: false);
        Assert.True(info.IsBlockDevice);
        Assert.Equal(32L << 20, info.Size);
        Assert.Contains("needs", Assert.Throws<TargetRefusedException>(() => _guard.Check(loop.Path, 64L << 20, false)).Message);

        var mnt = Directory.CreateDirectory(dir.File("mnt")).FullName;
        Tool.Run("mount", loop.Path, mnt);
        try
        {
            var ex = Assert.Throws<TargetRefusedException>(() => _guard.Check(loop.Path, 1, false));
            Assert.Contains($"mounted at {mnt}", ex.Message);
        }
        finally
        {
            Tool.Run("umount", mnt);
        }
    }

    /// <summary>
    /// A fake /proc and /sys (this container has no partition scanning for loop devices) in which a
    /// real loop device appears as disk "sda" with partition sda1 (8:1) and sda2 (8:2).
    /// </summary>
    private sealed class FakeSystem : IDisposable
    {
        public FakeSystem(string mountinfo, bool rootOnDmOverSda2 = false)
        {
            Dir = new TempDirectory("guard-sys");
            Proc = Directory.CreateDirectory(Dir.File("proc/self")).Parent!.FullName;
            File.WriteAllText(Path.Combine(Proc, "self", "mountinfo"), mountinfo);
            var sys = Dir.File("sys");
            var sda = Directory.CreateDirectory(Path.Combine(sys, "devices", "sda")).FullName;
            File.WriteAllText(Path.Combine(sda, "dev"), "8:0\n");
            foreach (var n in new[] { 1, 2 })
            {
                var part = Directory.CreateDirectory(Path.Combine(sda, $"sda{n}")).FullName;
                File.WriteAllText(Path.Combine(part, "dev"), $"8:{n}\n");
                File.WriteAllText(Path.Combine(part, "partition"), $"{n}\n");
                Directory.CreateDirectory(Path.Combine(part, "holders"));
            }
            Directory.CreateDirectory(Path.Combine(sys, "dev", "block"));
            Directory.CreateSymbolicLink(Path.Combine(sys, "dev", "block", "8:2"), Path.Combine(sda, "sda2"));
            if (rootOnDmOverSda2)
            {
                var dm = Directory.CreateDirectory(Path.Combine(sys, "devices", "dm-0")).FullName;
                File.WriteAllText(Path.Combine(dm, "dev"), "253:0\n");
                Directory.CreateDirectory(Path.Combine(dm, "slaves"));
                Directory.CreateSymbolicLink(Path.Combine(dm, "slaves", "sda2"), Path.Combine(sda, "sda2"));
                Directory.CreateSymbolicLink(Path.Combine(sys, "dev", "block", "253:0"), dm);
            }
            Loop = LoopDevice.Attach(FsImage.Blank(Dir.File("disk.img"), 8 << 20));
            Directory.CreateDirectory(Path.Combine(sys, "class", "block"));
            Directory.CreateSymbolicLink(Path.Combine(sys, "class", "block", Path.GetFileName(Loop.Path)), sda);
            Guard = new TargetGuard(Proc, sys);
        }

        public TempDirectory Dir { get; }
        public string Proc { get; }
        public LoopDevice Loop { get; }
        public TargetGuard Guard { get; }

        public void Dispose()
        {
            Loop.Dispose();
            Dir.Dispose();
        }
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice)]
    public void A_mounted_partition_refuses_the_whole_disk()
    {
        using var fake = new FakeSystem("22 1 8:1 / /home rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
        var ex = Assert.Throws<TargetRefusedException>(() => fake.Guard.Check(fake.Loop.Path, 1, false));
        Assert.Contains("mounted at /home", ex.Message);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice)]
    public void The_system_disk_is_refused_through_device_mapper_layers()
    {
        using var fake = new FakeSystem("22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n", rootOnDmOverSda2: true);
        var ex = Assert.Throws<TargetRefusedException>(() => fake.Guard.Check(fake.Loop.Path, 1, false));
        Assert.Contains("running system's root filesystem", ex.Message);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice)]
    public void A_partition_held_by_lvm_or_raid_is_refused()
    {
        using var fake = new FakeSystem("");
        Directory.CreateSymbolicLink(Path.Combine(fake.Dir.Path, "sys", "devices", "sda", "sda1", "holders", "md0"), fake.Dir.Path);
        var ex = Assert.Throws<TargetRefusedException>(() => fake.Guard.Check(fake.Loop.Path, 1, false));
        Assert.Contains("in use by md0", ex.Message);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice)]
    public void A_free_disk_in_the_fake_system_passes()
    {
        using var fake = new FakeSystem("22 1 8:16 / / rw - ext4 /dev/sdb1 rw\n");
        Assert.True(fake.Guard.Check(fake.Loop.Path, 1, false).IsBlockDevice);
    }

    /// <summary>A fake /sys/block as a netboot client sees it: each entry a link into /sys/devices like the kernel's.</summary>
    private static TargetGuard FakeBlock(TempDirectory dir, string mountinfo, params (string Name, string Where, long Sectors, int Removable)[] disks)
    {
        var proc = Directory.CreateDirectory(dir.File("proc/self")).Parent!.FullName;
        File.WriteAllText(Path.Combine(proc, "self", "mountinfo"), mountinfo);
        var sys = dir.File("sys");
        Directory.CreateDirectory(Path.Combine(sys, "block"));
        Directory.CreateDirectory(Path.Combine(sys, "dev", "block"));
        int minor = 0;
        foreach (var (name, where, sectors, removable) in disks)
        {
            var real = Directory.CreateDirectory(Path.Combine(sys, "devices", where, "block", name)).FullName;
            File.WriteAllText(Path.Combine(real, "size"), $"{sectors}\n");
            File.WriteAllText(Path.Combine(real, "removable"), $"{removable}\n");
            File.WriteAllText(Path.Combine(real, "dev"), $"8:{minor}\n");
            Directory.CreateSymbolicLink(Path.Combine(sys, "dev", "block", $"8:{minor}"), real);
            minor += 16;
            Directory.CreateSymbolicLink(Path.Combine(sys, "block", name), real);
        }
        return new TargetGuard(proc, sys);
    }

    [Fact]
    public void Auto_target_is_the_one_internal_disk_among_virtual_removable_usb_and_empty_ones()
    {
        using var dir = new TempDirectory("guard-auto");
        var guard = FakeBlock(dir, "",
            ("loop0", "virtual", 2048, 0), ("zram0", "virtual", 2048, 0), ("sr0", "pci0000:00/0000:00:01.1/ata2", 0, 1),
            ("sdb", "pci0000:00/0000:00:14.0/usb2/2-1", 30_000_000, 0), ("sdc", "pci0000:00/0000:00:14.0/usb2/2-2", 30_000_000, 1),
            ("mmcblk0boot0", "platform/mmc0", 8192, 0), ("sdd", "pci0000:00/0000:00:1f.2/ata3", 0, 0),
            ("vda", "pci0000:00/0000:00:04.0/virtio1", 4_194_304, 0));
        Assert.Equal("/dev/vda", guard.FindInternalDisk());
    }

    [Fact]
    public void Auto_target_refuses_to_guess_between_two_disks_and_names_them()
    {
        using var dir = new TempDirectory("guard-auto2");
        var guard = FakeBlock(dir, "",
            ("nvme0n1", "pci0000:00/0000:00:1d.0/nvme/nvme0", 1_000_215_216, 0), ("sda", "pci0000:00/0000:00:17.0/ata1", 3_907_029_168, 0));
        var ex = Assert.Throws<TargetRefusedException>(() => guard.FindInternalDisk());
        Assert.Contains("2 internal disks, refusing to guess: nvme0n1 (512110190592 bytes), sda (2000398934016 bytes)", ex.Message);
        Assert.Contains("pass --target /dev/DISK", ex.Message);
    }

    [Fact]
    public void Auto_target_skips_the_running_systems_disk_and_says_why_when_nothing_is_left()
    {
        using var dir = new TempDirectory("guard-auto3");
        // The root file system is on sda (8:0): the only disk there is, so nothing is left to deploy to.
        var guard = FakeBlock(dir, "22 1 8:0 / / rw - ext4 /dev/sda rw\n", ("sda", "pci0000:00/0000:00:17.0/ata1", 1_000_000, 0),
            ("sdb", "pci0000:00/0000:00:14.0/usb2/2-1", 30_000_000, 1));
        var ex = Assert.Throws<TargetRefusedException>(() => guard.FindInternalDisk());
        Assert.Equal("--target auto: no internal disk found; not considered: sda (the running system's disk), sdb (removable); pass --target /dev/DISK", ex.Message);
    }
}
