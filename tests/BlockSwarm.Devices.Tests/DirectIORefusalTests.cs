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

    /// <summary>A 3 MiB file in the temp directory (which must take O_DIRECT) and random bytes for it.</summary>
    private static (string Path, byte[] Data) Target(TempDirectory dir)
    {
        Requires.All(Need.DirectIO);
        const int size = 3 << 20;
        string path = dir.File("t.img");
        using (var f = File.Create(path)) f.SetLength(size);
        var data = new byte[size];
        new Random(7).NextBytes(data);
        return (path, data);
    }

    /// <summary><paramref name="length"/> bytes of <paramref name="data"/> from <paramref name="at"/>, copied to pinned memory aligned on a page.</summary>
    private static ReadOnlyMemory<byte> Aligned(byte[] data, int at, int length) => Copy(data, at, length, 0);

    /// <summary>The same, 8 bytes past a page: not aligned for O_DIRECT (bounce writes).</summary>
    private static ReadOnlyMemory<byte> Unaligned(byte[] data, int at, int length) => Copy(data, at, length, 8);

    private static ReadOnlyMemory<byte> Copy(byte[] data, int at, int length, int skew)
    {
        var array = GC.AllocateUninitializedArray<byte>(length + 8192, pinned: true);
        int offset;
        unsafe
        {
            fixed (byte* p = array) offset = (int)((4096 - ((nint)p & 4095)) & 4095) + skew;
        }
        data.AsSpan(at, length).CopyTo(array.AsSpan(offset));
        return array.AsMemory(offset, length);
    }

    [Fact]
    public unsafe void A_direct_write_the_kernel_refuses_mid_run_is_written_buffered_and_so_is_everything_after_it()
    {
        using var dir = new TempDirectory("refusal-write");
        var (path, data) = Target(dir);
        var refusals = new List<string>();
        using var file = DeviceFile.OpenReadWrite(path);
        Assert.True(DirectIOBlockDevice.TryOpen(file, 4L << 20, out var device, out _, ownsFile: false, onRefusedAtWrite: refusals.Add));
        long refusedAt;
        using (device)
        {
            // A sixteenth of the 4 MiB cache, cut into a buffer per write in flight: many direct writes per run.
            Assert.Equal((256 << 10, 64 << 10), (device.BounceBytes, device.BounceChunkBytes));
            refusedAt = 4096 + 2 * device.BounceChunkBytes;
            var real = device.PwriteCall;
            int calls = 0;
            // The kernel takes every direct write but one (as a file system that wants another alignment might).
            device.PwriteCall = (b, n, o) =>
            {
                Interlocked.Increment(ref calls);
                return o == refusedAt ? -NativeMethods.EINVAL : real(b, n, o);
            };

            // An unaligned head and tail around the first run (these bytes are not aligned in memory: bounce writes).
            device.Write(100, [Unaligned(data, 100, (2 << 20) - 100)]);
            Assert.True(device.Refused);
            Assert.InRange(device.DirectBytes, 1, (2 << 20) - 4096 - device.BounceChunkBytes);
            int before = calls;
            device.Write(2 << 20, [Aligned(data, 2 << 20, 1 << 20)]);
            Assert.Equal(before, calls); // nothing direct after the refusal
            device.Write(0, [data.AsMemory(0, 100)]);
            device.Flush();
        }
        Assert.Equal(data, File.ReadAllBytes(path));
        var why = Assert.Single(refusals);
        Assert.Contains($"offset {refusedAt}", why, StringComparison.Ordinal);
        Assert.Contains("errno 22", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Runs_aligned_in_memory_are_written_straight_from_the_buffers_several_at_once()
    {
        using var dir = new TempDirectory("zero-copy");
        var (path, data) = Target(dir);
        using var file = DeviceFile.OpenReadWrite(path);
        using (var device = DirectIOBlockDevice.Open(file, 1L << 20, ownsFile: false))
        {
            // Six single-piece runs, as a batch of scattered pieces is, out of order; one run of two buffers; one not
            // aligned in memory (bounce writes); and a run with unaligned edges.
            var runs = new List<WriteRun>();
            foreach (int piece in new[] { 5, 0, 3, 1 })
                runs.Add(new WriteRun(piece * (256L << 10), [Aligned(data, piece * (256 << 10), 256 << 10)]));
            runs.Add(new WriteRun(8L << 18, [Aligned(data, 8 << 18, 128 << 10), Aligned(data, (8 << 18) + (128 << 10), 128 << 10)]));
            runs.Add(new WriteRun(2L << 18, [Unaligned(data, 2 << 18, 256 << 10)]));
            runs.Add(new WriteRun(4L << 18, [Unaligned(data, 4 << 18, 256 << 10)]));
            runs.Add(new WriteRun((6L << 18) + 100, [Unaligned(data, (6 << 18) + 100, (512 << 10) - 100)]));
            runs.Add(new WriteRun(6L << 18, [data.AsMemory(6 << 18, 100)]));
            runs.Add(new WriteRun(9L << 18, [Aligned(data, 9 << 18, data.Length - (9 << 18))]));
            device.WriteRuns(runs);
            device.Flush();
            long alignedInMemory = 4 * (256L << 10) + (256L << 10) + data.Length - (9L << 18);
            Assert.Equal(alignedInMemory, device.ZeroCopyBytes);
            Assert.True(device.DirectBytes > alignedInMemory); // and the rest went through bounce buffers
            Assert.Equal(data.Length, device.DirectBytes + device.BufferedBytes);
            Assert.Equal(0, device.BouncePool.Outstanding);
        }
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public unsafe void A_write_from_aligned_buffers_the_kernel_refuses_falls_back_buffered_too()
    {
        using var dir = new TempDirectory("zero-copy-refusal");
        var (path, data) = Target(dir);
        var refusals = new List<string>();
        using var file = DeviceFile.OpenReadWrite(path);
        Assert.True(DirectIOBlockDevice.TryOpen(file, 1L << 20, out var device, out _, ownsFile: false, onRefusedAtWrite: refusals.Add));
        using (device)
        {
            device.PwritevCall = (iov, n, o) => -NativeMethods.EINVAL;
            device.WriteRuns([new WriteRun(0, [Aligned(data, 0, 1 << 20)]), new WriteRun(1L << 20, [Aligned(data, 1 << 20, 2 << 20)])]);
            Assert.True(device.Refused);
            Assert.Equal(0, device.DirectBytes);
            device.Flush();
        }
        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.Single(refusals);
    }

    [Fact]
    public unsafe void Without_a_fallback_a_refused_direct_write_is_an_error_naming_the_target_and_offset()
    {
        using var dir = new TempDirectory("refusal-strict");
        var (path, _) = Target(dir);
        using var file = DeviceFile.OpenReadWrite(path);
        using var device = DirectIOBlockDevice.Open(file, 1 << 20, ownsFile: false);
        device.PwriteCall = (b, n, o) => -NativeMethods.EINVAL;
        var ex = Assert.Throws<StorageException>(() => device.Write(1 << 20, [Unaligned(new byte[1 << 20], 0, device.BounceChunkBytes)]));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {1 << 20}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("errno 22", ex.Message, StringComparison.Ordinal);
        Assert.False(device.Refused);
    }
}
