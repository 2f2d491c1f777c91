using BlockSwarm.Testing;

namespace BlockSwarm.Devices.Tests;

/// <summary>
/// Where O_DIRECT is not for a target, <see cref="DirectIOBlockDevice.TryOpen"/> says why instead of failing (the
/// default write mode then writes buffered), and a direct write the kernel refuses halfway through a target (EINVAL)
/// turns the device buffered for the rest without losing or doubling a byte.
/// </summary>
public sealed class DirectIORefusalTests
{
    [Fact]
    public void A_file_on_tmpfs_is_refused_with_the_reason_and_left_open_for_buffered_writes()
    {
        using var dir = TempDirectory.OnTmpfs("refusal");
        string path = dir.File("t.img");
        using var file = DeviceFile.CreateImage(path, 1 << 20);
        Assert.False(DirectIOBlockDevice.TryOpen(file, 1 << 20, out var device, out var refusal, ownsFile: false));
        Assert.Null(device);
        Assert.True(refusal.InMemoryFileSystem);
        Assert.Contains("tmpfs", refusal.Reason, StringComparison.Ordinal);
        file.WriteAll(0, new byte[4096]); // still the caller's, still writable

        var ex = Assert.Throws<StorageException>(() => DirectIOBlockDevice.Open(file, 1 << 20, ownsFile: false));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("tmpfs", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--write-mode", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void A_direct_write_the_kernel_refuses_mid_run_is_written_buffered_and_so_is_everything_after_it()
    {
        Requires.All(Need.DirectIO);
        using var dir = new TempDirectory("refusal-write");
        const int size = 3 << 20;
        string path = dir.File("t.img");
        using (var f = File.Create(path)) f.SetLength(size);
        var data = new byte[size];
        new Random(7).NextBytes(data);
        var refusals = new List<string>();
        using var file = DeviceFile.OpenReadWrite(path);
        Assert.True(DirectIOBlockDevice.TryOpen(file, 4L << 20, out var device, out _, ownsFile: false, onRefusedAtWrite: refusals.Add));
        using (device)
        {
            Assert.Equal(256 << 10, device.BounceBytes); // a sixteenth of the 4 MiB cache: several direct writes per run
            var real = device.PwriteCall;
            int calls = 0;
            // The kernel takes the first two direct writes, then refuses one (as a file system with another alignment would).
            device.PwriteCall = (b, n, o) => ++calls == 3 ? -NativeMethods.EINVAL : real(b, n, o);

            // An unaligned head and tail around the first run; the second run starts after the switch.
            device.Write(100, [data.AsMemory(100, (2 << 20) - 100)]);
            Assert.True(device.Refused);
            Assert.Equal(2L * device.BounceBytes, device.DirectBytes);
            device.Write(2 << 20, [data.AsMemory(2 << 20, 1 << 20)]);
            Assert.Equal(3, calls); // nothing direct after the refusal
            device.Write(0, [data.AsMemory(0, 100)]);
            device.Flush();
        }
        Assert.Equal(data, File.ReadAllBytes(path));
        var why = Assert.Single(refusals);
        Assert.Contains($"offset {4096 + 2 * (256 << 10)}", why, StringComparison.Ordinal); // after the buffered head and two direct writes
        Assert.Contains("errno 22", why, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void Without_a_fallback_a_refused_direct_write_is_an_error_naming_the_target_and_offset()
    {
        Requires.All(Need.DirectIO);
        using var dir = new TempDirectory("refusal-strict");
        string path = dir.File("t.img");
        using (var f = File.Create(path)) f.SetLength(1 << 20);
        using var file = DeviceFile.OpenReadWrite(path);
        using var device = DirectIOBlockDevice.Open(file, 1 << 20, ownsFile: false);
        device.PwriteCall = (b, n, o) => -NativeMethods.EINVAL;
        var ex = Assert.Throws<StorageException>(() => device.Write(0, [new byte[1 << 16]]));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("errno 22", ex.Message, StringComparison.Ordinal);
        Assert.False(device.Refused);
    }
}
