using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// The product as a room meets it: virtual machines with empty disks are switched on, PXE-boot (QEMU's iPXE ROM from
/// Debian's ipxe-qemu), get an address from the site's DHCP server and their boot orders from dnsmasq's proxy-DHCP
/// (the configuration packaging/netboot/build-netboot.sh writes, as docs/operator-guide.md gives it; two machines
/// boot with SeaBIOS, one with UEFI firmware), load the kernel
/// and initramfs from <c>serve --netboot</c> (the binary the .deb installs, in a clean bookworm root), deploy a GPT disk holding ext4 and NTFS, and power off. Every disk must
/// then equal the source over the torrent's extents and pass e2fsck and ntfsfix. A fourth machine with two disks
/// refuses <c>blockswarm.target=auto</c> and says so on its console and on the server's dashboard.
/// One run with everything shared: each VM boot costs tens of seconds.
/// </summary>
public sealed class NetbootVmTests(ITestOutputHelper output)
{
    private const long DiskBytes = 768L << 20;
    private const long P1Start = 1L << 20, P1Bytes = 384L << 20;
    private const long P2Start = P1Start + P1Bytes, P2Bytes = 360L << 20;
    private const string Subnet = "10.77.0";

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.Tap, "qemu-system-x86_64", "dnsmasq", "sgdisk", "mkfs.ext4", "mkfs.ntfs", "ntfsfix", "e2fsck", "cpio", "zstd", "apt-get")]
    public async Task Three_machines_pxe_boot_deploy_ext4_and_ntfs_and_power_off_and_an_ambiguous_one_says_why()
    {
        var ct = TestContext.Current.CancellationToken;
        Requires.That(File.Exists("/usr/lib/ipxe/undionly.kpxe"), "Debian's ipxe package (/usr/lib/ipxe: the TFTP files of the proxy-DHCP configuration)");
        Requires.That(File.Exists(Path.Combine(Vm.Ovmf, "OVMF_CODE_4M.fd")), "Debian's ovmf package (UEFI firmware for the UEFI machine)");
        string server = ServerBinary();
        using var dir = new TempDirectory("netboot-vm");
        var clock = Stopwatch.StartNew();
        void Note(string s) => output.WriteLine($"[{clock.Elapsed.TotalSeconds,7:0.0}] {s}");

        // The netboot image, built by the project's script around the NativeAOT binary.
        var netboot = dir.File("netboot");
        var build = Tool.Run(new ProcessSpec("bash", Path.Combine(RepoPaths.Root, "packaging", "netboot", "build-netboot.sh"),
            "--binary", NativeCliTests.Binary(), "--output", netboot), check: false, timeout: TimeSpan.FromMinutes(10));
        Assert.True(build.ExitCode == 0, build.StdOut + build.StdErr);
        Note(build.StdOut.Trim());
        string accel = PickAccelerator(netboot, dir, Note);

        // The image: a GPT disk with ext4 (files) and NTFS (files) partitions.
        var source = MakeSourceDisk(dir);
        Note("source disk made");

        using var lan = SwitchedLan.Create("bs-pxe-", Subnet, log: Note);
        var srv = lan.AddHost("srv", 1);
        var site = lan.AddHost("dhcp", 2);
        // The site's own DHCP server hands out addresses; ours only tells PXE clients where to boot (proxy-DHCP).
        site.Namespace.Start("site-dhcp", "dnsmasq", "--no-daemon", "--port=0", "--interface=eth0", "--bind-interfaces",
            $"--dhcp-range={Subnet}.100,{Subnet}.200,255.255.255.0,1h", $"--dhcp-leasefile={dir.File("site.leases")}", "--log-dhcp");
        var url = $"http://{srv.Ip}:8080";
        var proxyConf = dir.File("proxy.conf");
        await File.WriteAllTextAsync(proxyConf, (await File.ReadAllTextAsync(Path.Combine(netboot, "dnsmasq-proxy.conf"), ct))
            .Replace("10.0.0.0", $"{Subnet}.0", StringComparison.Ordinal).Replace("http://SERVER:8080", url, StringComparison.Ordinal), ct);
        srv.Namespace.Start("proxy-dhcp", "dnsmasq", "--no-daemon", $"--conf-file={proxyConf}", "--interface=eth0", "--bind-interfaces",
            $"--dhcp-leasefile={dir.File("proxy.leases")}");
        var torrentOut = dir.File("job.torrent");
        // Processes started in the LAN's namespaces are the LAN's: its Dispose kills them and shows their output.
        var serve = srv.Namespace.StartCli(server, "serve", "serve", "-s", source, "--listen", srv.Ip, "--http-port", "8080",
            "--expect", "3", "--stop-when-done", "--netboot", netboot, "--torrent-out", torrentOut,
            "--netboot-args", "blockswarm.target=auto blockswarm.after=poweroff console=ttyS0,115200n8");
        await serve.WaitForOutputAsync("network boot: point iPXE", TimeSpan.FromMinutes(2), ct);
        Note("serve is up");

        // Three machines with one empty disk each, and one with two (auto must refuse to guess).
        var vms = new List<Vm>();
        for (int i = 1; i <= 4; i++)
        {
            var disks = new List<string> { FsImage.Blank(dir.File($"vm{i}.img"), DiskBytes) };
            if (i == 4) disks.Add(FsImage.Blank(dir.File($"vm{i}-second.img"), DiskBytes));
            // vm3 boots with UEFI firmware (OVMF): its iPXE is the EFI build, the proxy-DHCP's X86-64_EFI entry answers it.
            vms.Add(Vm.Start(lan, i, disks, accel, clock, uefi: i == 3 ? dir.File("vm3-efivars.fd") : null));
        }
        Note($"4 VMs switched on ({accel})");

        // The ambiguous machine: refused before writing a byte, on its console and on the dashboard.
        var odd = vms[3];
        await odd.Process.WaitForOutputAsync("FAILED: target auto refused (exit 4)", TimeSpan.FromMinutes(8), ct);
        Assert.Contains("2 internal disks, refusing to guess: vda (805306368 bytes), vdb (805306368 bytes)", odd.Process.Output, StringComparison.Ordinal);
        JsonNode? refused = null;
        await Eventually.UntilAsync(() =>
        {
            var clients = JsonNode.Parse(srv.Namespace.HttpGet($"{url}/api/clients") ?? "{}")?["clients"]?.AsArray();
            refused = clients?.FirstOrDefault(c => (string?)c?["id"] == odd.Id);
            return refused is not null;
        }, TimeSpan.FromSeconds(30), "the ambiguous machine on the dashboard");
        Assert.Equal("refused", (string?)refused!["report"]?["state"]);
        Assert.Contains("refusing to guess", (string?)refused["report"]?["error"], StringComparison.Ordinal);
        odd.Process.Kill();
        Assert.All(odd.Disks, d => Assert.True(IsAllZero(d), $"{d} was written although the target was refused"));
        Note("the ambiguous machine refused, on its console and the dashboard");

        foreach (var vm in vms.Take(3))
        {
            int code = await vm.Process.WaitForExitAsync(TimeSpan.FromMinutes(15), ct);
            Assert.True(code == 0, $"vm{vm.Index} exited {code}:\n{vm.Process.Tail(40)}");
            Assert.Contains("done: the disk is deployed, verified and on stable storage", vm.Process.Output, StringComparison.Ordinal);
            Assert.Contains("powering off", vm.Process.Output, StringComparison.Ordinal);
            Note($"vm{vm.Index} ({vm.Firmware}): power-on to init {vm.BootedAt?.TotalSeconds:0.0} s, to the disk verified {vm.DoneAt?.TotalSeconds:0.0} s, to powered off {vm.Process.WallTime.TotalSeconds:0.0} s");
        }
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromMinutes(1), ct));
        Assert.Contains("all 3 expected clients are done", serve.StdOut, StringComparison.Ordinal);

        var layout = BlockImageLayout.Create(Torrent.Load(torrentOut));
        foreach (var vm in vms.Take(3))
        {
            var disk = vm.Disks[0];
            Assert.Null(layout.FirstDifference(source, disk));
            var p1 = FsImage.CopyOut(disk, P1Start, P1Bytes, dir.File($"vm{vm.Index}-p1"));
            var fsck = Tool.Run("e2fsck", ["-fn", p1], check: false);
            Assert.True(fsck.ExitCode == 0, $"vm{vm.Index} ext4: {fsck.StdOut}{fsck.StdErr}");
            var p2 = FsImage.CopyOut(disk, P2Start, P2Bytes, dir.File($"vm{vm.Index}-p2"));
            var ntfs = Tool.Run("ntfsfix", ["-n", p2], check: false);
            Assert.True(ntfs.ExitCode == 0, $"vm{vm.Index} NTFS: {ntfs.StdOut}{ntfs.StdErr}");
            File.Delete(p1);
            File.Delete(p2);
        }
        Note("3 disks equal the source over every extent; e2fsck -fn and ntfsfix -n clean");
    }

    /// <summary>One virtual machine: QEMU in the LAN's switch namespace, its NIC on a tap port of the bridge, booting from the network.</summary>
    private sealed class Vm
    {
        public required int Index { get; init; }
        public required string Id { get; init; }
        public required IReadOnlyList<string> Disks { get; init; }
        public required RunningProcess Process { get; init; }
        public required string Firmware { get; init; }
        /// <summary>From power-on to the kernel starting the init (firmware, PXE, iPXE, kernel and initramfs over HTTP).</summary>
        public TimeSpan? BootedAt { get; private set; }

        /// <summary>From power-on to every piece verified and fsynced on the disk.</summary>
        public TimeSpan? DoneAt { get; private set; }

        /// <summary>Debian's ovmf package: UEFI firmware for QEMU.</summary>
        public const string Ovmf = "/usr/share/OVMF";

        public static Vm Start(SwitchedLan lan, int index, IReadOnlyList<string> disks, string accel, Stopwatch clock, string? uefi)
        {
            var tap = $"tap{index}";
            lan.Switch.Ip("tuntap", "add", tap, "mode", "tap");
            lan.Switch.Ip("link", "set", tap, "master", "br0");
            lan.Switch.SetLink(tap, up: true);
            var mac = $"52:54:00:77:00:{index:x2}";
            var args = new List<string>
            {
                "-accel", accel, "-m", "1024", "-smp", "1", "-nographic", "-no-reboot", "-boot", "n",
                "-netdev", $"tap,id=n0,ifname={tap},script=no,downscript=no", "-device", $"virtio-net-pci,netdev=n0,mac={mac}",
            };
            foreach (var d in disks) args.AddRange(["-drive", $"file={d},format=raw,if=virtio,cache=unsafe"]);
            if (uefi is not null)
            {
                File.Copy(Path.Combine(Ovmf, "OVMF_VARS_4M.fd"), uefi, overwrite: true);
                args.AddRange(["-drive", $"if=pflash,format=raw,readonly=on,file={Path.Combine(Ovmf, "OVMF_CODE_4M.fd")}", "-drive", $"if=pflash,format=raw,file={uefi}"]);
            }
            var started = clock.Elapsed;
            var p = lan.Switch.Start(new ProcessSpec("qemu-system-x86_64", [.. args]) { Label = $"vm{index}" });
            var vm = new Vm { Index = index, Id = mac.Replace(':', '-'), Disks = disks, Process = p, Firmware = uefi is null ? "BIOS" : "UEFI" };
            p.LineReceived += (line, _) =>
            {
                if (vm.BootedAt is null && line.Contains("Run /init as init process", StringComparison.Ordinal)) vm.BootedAt = clock.Elapsed - started;
                if (vm.DoneAt is null && line.Contains("complete: every piece verified and on stable storage", StringComparison.Ordinal)) vm.DoneAt = clock.Elapsed - started;
            };
            return vm;
        }
    }

    /// <summary>
    /// KVM when it boots the netboot kernel here (a probe that powers off at once), else TCG. On the development VM
    /// /dev/kvm exists but nested KVM hangs this kernel and iPXE; BLOCKSWARM_VM_ACCEL=kvm|tcg decides without a probe.
    /// </summary>
    private static string PickAccelerator(string netboot, TempDirectory dir, Action<string> note)
    {
        if (Environment.GetEnvironmentVariable("BLOCKSWARM_VM_ACCEL") is { Length: > 0 } forced) return forced;
        if (!File.Exists("/dev/kvm")) return "tcg";
        string why;
        try
        {
            var probe = Tool.Run(new ProcessSpec("qemu-system-x86_64", "-accel", "kvm", "-m", "512", "-nographic", "-no-reboot", "-net", "none",
                "-kernel", Path.Combine(netboot, "vmlinuz"), "-initrd", Path.Combine(netboot, "initrd.img"),
                "-append", "console=ttyS0 blockswarm.probe blockswarm.server=http://0.0.0.0/"), check: false, timeout: TimeSpan.FromSeconds(25));
            why = probe.ExitCode == 0 && probe.StdOut.Contains("probe ok", StringComparison.Ordinal) ? "" : $"exit {probe.ExitCode}";
        }
        catch (TimeoutException)
        {
            why = "it hangs (no \"probe ok\" in 25 s)";
        }
        bool ok = why.Length == 0;
        note(ok ? "KVM boots the netboot kernel: using it" : $"KVM does not boot the netboot kernel here ({why}): using TCG");
        return ok ? "kvm" : "tcg";
    }

    private static string MakeSourceDisk(TempDirectory dir)
    {
        var disk = FsImage.Blank(dir.File("source.img"), DiskBytes);
        Tool.Run("sgdisk", ["-n", $"1:{P1Start / 512}:+{P1Bytes >> 20}M", "-t", "1:8300", "-n", $"2:{P2Start / 512}:+{P2Bytes >> 20}M", "-t", "2:0700", disk]);
        var ext4 = FsImage.SampleExt4(dir.File("p1.img"), P1Bytes, seed: 16, bigBytes: 48 << 20);
        var tree = Directory.CreateDirectory(dir.File("ntfs-tree")).FullName;
        var rng = new Random(16);
        for (int i = 0; i < 24; i++)
        {
            var data = new byte[rng.Next(1, 4 << 20)];
            rng.NextBytes(data);
            File.WriteAllBytes(Path.Combine(tree, $"file{i:00}.bin"), data);
        }
        File.WriteAllText(Path.Combine(tree, "readme.txt"), "deployed by BlockSwarm over PXE\n");
        var ntfs = FsImage.Ntfs(dir.File("p2.img"), P2Bytes, tree, "-p", (P2Start / 512).ToString(CultureInfo.InvariantCulture));
        using (var d = new FileStream(disk, FileMode.Open, FileAccess.Write))
        {
            foreach (var (img, at) in new[] { (ext4, P1Start), (ntfs, P2Start) })
            {
                using var s = File.OpenRead(img);
                d.Position = at;
                s.CopyTo(d);
            }
        }
        File.Delete(ext4);
        File.Delete(ntfs);
        return disk;
    }

    private static bool IsAllZero(string file)
    {
        using var s = File.OpenRead(file);
        var buf = new byte[1 << 20];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
            if (buf.AsSpan(0, n).ContainsAnyExcept((byte)0)) return false;
        return true;
    }

    /// <summary>The server as an operator installs it: /usr/bin/blockswarm of the .deb, installed with apt into a clean bookworm root.</summary>
    private static string ServerBinary()
    {
        DebianPackageFixture.RequireTools();
        var bin = Path.Combine(DebianPackageFixture.InstalledRoot(), "usr", "bin", "blockswarm");
        Assert.True(File.Exists(bin), $"the installed package has no {bin}");
        return bin;
    }
}
