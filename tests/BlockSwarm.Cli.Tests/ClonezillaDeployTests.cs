using System.Net.Http.Json;
using BlockSwarm.Clonezilla;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Devices;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// Issue 14's acceptance, with the shipped binary: a real Clonezilla image directory (GPT disk: ext4, NTFS, FAT32, swap;
/// split into several files) deployed by <c>serve --source IMAGEDIR</c> straight out of its compressed images to four
/// <c>deploy</c> clients. Every target equals Clonezilla's own <c>restoredisk</c> of the directory over everything
/// restoredisk writes (the NTFS backup boot sector aside: BlockSwarm writes it, restoredisk leaves it to ntfsfix -d), and
/// e2fsck -fn, ntfsfix -n and fsck.vfat -n find nothing to mend.
/// </summary>
[Requires(Need.Root, Need.LoopDevice, "ocs-sr", "partclone.extfs", "parted", "pigz", "zstd", "mkfs.ntfs", "ntfs-3g", "mkfs.vfat", "mkswap", "e2fsck", "ntfsfix", "fsck.vfat", "/usr/bin/time")]
public sealed class ClonezillaDeployTests(ITestOutputHelper output)
{
    public static TheoryData<ClonezillaFixtureKind> Kinds => [ClonezillaFixtureKind.GptZstd, ClonezillaFixtureKind.GptGzip];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Four_clients_deploy_an_image_directory_as_restoredisk_writes_it(ClonezillaFixtureKind kind)
    {
        string bin = NativeCliTests.Binary();
        var f = ClonezillaFixture.Get(kind);
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("cz-deploy");
        var cache = dir.File("index-cache");
        var env = new Dictionary<string, string> { ["BLOCKSWARM_CACHE"] = cache };

        // inspect names every partition and what it writes; create hashes the directory once and leaves its index behind.
        var inspect = Tool.Run(new ProcessSpec(bin, "inspect", f.ImageDirectory) { Environment = env });
        foreach (var fs in new[] { "ext4", "ntfs", "vfat", "swap" }) Assert.Contains(fs, inspect.StdOut, StringComparison.Ordinal);
        var create = Tool.Run(new ProcessSpec(bin, "create", "-s", f.ImageDirectory, "-o", dir.File("job.torrent")) { Environment = env });
        Assert.Contains("index saved in", create.StdOut + create.StdErr, StringComparison.Ordinal);

        int httpPort = FreePort.Tcp(), btPort = FreePort.Tcp();
        using var serve = RunningProcess.Start(new ProcessSpec(bin, "serve", "-s", f.ImageDirectory, "--listen", "127.0.0.1",
            "--http-port", $"{httpPort}", "--bt-port", $"{btPort}", "--expect", "4", "--stop-when-done")
        { Environment = env, MeasureUsage = true, Label = "serve" });
        var clients = new List<RunningProcess>();
        try
        {
            // The job asks for a target past the last partition and the backup GPT: the saved disk's whole size.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            JobInfo? published = null;
            await Eventually.UntilAsync(async () =>
            {
                Assert.False(serve.HasExited, serve.Tail());
                try { published = await http.GetFromJsonAsync($"http://127.0.0.1:{httpPort}/api/job", DeployJson.Default.JobInfo, ct); }
                catch (HttpRequestException) { }
                return published != null;
            }, TimeSpan.FromSeconds(30), "serve's job API", () => serve.Tail(), TimeSpan.FromMilliseconds(100), ct);
            Assert.Equal(new FileInfo(f.RestoredDisk).Length, published!.RequiredTargetSize);

            for (int i = 0; i < 4; i++)
            {
                var target = dir.File($"client{i}.img");
                using (var blank = File.Create(target)) blank.SetLength(new FileInfo(f.RestoredDisk).Length);
                clients.Add(RunningProcess.Start(new ProcessSpec(bin, "deploy", "--server", $"http://127.0.0.1:{httpPort}/", "--target", target,
                    "--allow-file", "--yes", "--listen", $"127.0.0.{60 + i}:0", "--id", $"client{i}") { Label = $"client{i}" }));
            }
            foreach (var c in clients)
            {
                int rc = await c.WaitForExitAsync(TimeSpan.FromMinutes(3), ct);
                Assert.True(rc == 0, $"{c.Label} exited {rc}:\n{c.Tail()}\nserve:\n{serve.Tail()}");
            }
            Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromMinutes(1), ct));
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
        // The second serve of the directory started from the index create left: no hashing pass.
        Assert.Contains("index reused from", serve.StdErr, StringComparison.Ordinal);

        var disk = ClonezillaImage.Load(f.ImageDirectory).Disks.Single();
        using var job = DiskJob.Open(disk);
        var restored = await File.ReadAllBytesAsync(f.RestoredDisk, ct);
        for (int i = 0; i < 4; i++)
        {
            var copy = await File.ReadAllBytesAsync(dir.File($"client{i}.img"), ct);
            foreach (var e in job.Extents)
            {
                var at = (int)e.Offset;
                var expected = job.NtfsBackupBootSectors.Contains(e)
                    ? restored.AsSpan((int)disk.Partitions.Single(p => p.Start <= e.Offset && e.Offset < p.End).Start, (int)e.Length)
                    : restored.AsSpan(at, (int)e.Length);
                Assert.True(copy.AsSpan(at, (int)e.Length).SequenceEqual(expected), $"client{i} differs from restoredisk in {e}");
            }
        }

        // File system checks that repair nothing, on client 0's partitions.
        var client0 = dir.File("client0.img");
        foreach (var p in disk.Partitions.Where(p => p.Image is not null))
        {
            var part = FsImage.CopyOut(client0, p.Start, p.Length, dir.File($"{p.Name}.part"));
            var check = p.Image!.FileSystem switch
            {
                "ext4" => Tool.Run("e2fsck", ["-fn", part], check: false),
                "ntfs" => Tool.Run("ntfsfix", ["-n", part], check: false),
                "vfat" or "fat32" or "fat16" => Tool.Run("fsck.vfat", ["-n", part], check: false),
                var other => throw new InvalidOperationException($"no checker for {other}"),
            };
            Assert.True(check.ExitCode == 0, $"{p.Name} ({p.Image.FileSystem}): {check.CommandLine} exited {check.ExitCode}\n{check.StdOut}{check.StdErr}");
            if (p.Image.FileSystem == "ntfs") Assert.Contains("Checking the alternate boot sector... OK", check.StdOut, StringComparison.Ordinal);
        }

        // Room used outside the image directory, and the origin's peak memory, for the closing note.
        long imageBytes = Directory.EnumerateFiles(f.ImageDirectory).Sum(p => new FileInfo(p).Length);
        long cacheBytes = Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Sum(p => new FileInfo(p).Length);
        var usage = serve.Usage();
        output.WriteLine($"{kind}: image directory {imageBytes} bytes, index cache {cacheBytes} bytes ({100.0 * cacheBytes / imageBytes:0.00}%), serve peak RSS {SizeParser.Format(usage.PeakRssBytes)}, {usage.UserSeconds + usage.SystemSeconds:0.00} CPU-s");
        Assert.True(cacheBytes <= imageBytes / 20, $"the index cache takes {cacheBytes} bytes, over 5% of the {imageBytes}-byte image directory");
    }

    [Fact]
    public async Task A_damaged_image_directory_is_refused_naming_the_file_before_anything_is_served()
    {
        var f = ClonezillaFixture.Get(ClonezillaFixtureKind.GptZstd);
        using var dir = new TempDirectory("cz-damaged");
        var copy = dir.File("image");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.EnumerateFiles(f.ImageDirectory)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));

        // The partitions are named after the loop device ocs-sr saved from (loop0p1 or another: fixtures of other test
        // assemblies may hold loop0 at the same time).
        string ext4 = Path.GetFileName(Directory.EnumerateFiles(copy, "*.ext4-ptcl-img.zst.ab").Single())[..^".ext4-ptcl-img.zst.ab".Length];
        string ntfs = Path.GetFileName(Directory.EnumerateFiles(copy, "*.ntfs-ptcl-img.zst.ab").Single())[..^".ntfs-ptcl-img.zst.ab".Length];

        // Bytes flipped in the middle of a split file: the hashing pass meets them and names the partition's files.
        var damaged = Path.Combine(copy, ext4 + ".ext4-ptcl-img.zst.ab");
        await using (var fs = File.Open(damaged, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = fs.Length / 2;
            fs.WriteByte(0x5A);
            fs.WriteByte(0xA5);
        }
        var r = await CliRunner.RunAsync("create", "-s", copy, "-o", dir.File("x.torrent"));
        Assert.Equal(1, r.ExitCode);
        Assert.Matches(System.Text.RegularExpressions.Regex.Escape(ext4) + @"\.ext4-ptcl-img\.zst.*byte \d+", r.StdErr);
        Assert.False(File.Exists(dir.File("x.torrent")));

        // A split piece gone: refused when the directory is loaded, naming the piece and where it would start.
        File.Delete(Path.Combine(copy, ntfs + ".ntfs-ptcl-img.zst.ab"));
        r = await CliRunner.RunAsync("serve", "-s", copy, "--listen", "127.0.0.1", "--http-port", "0", "--bt-port", "0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(ntfs + ".ntfs-ptcl-img.zst.ab: missing", r.StdErr, StringComparison.Ordinal);
    }
}
