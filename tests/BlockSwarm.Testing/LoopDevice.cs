using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// A loop device over an image file or a region of it (<c>losetup --offset/--sizelimit/--sector-size</c>), detached
/// on dispose, retrying while the kernel still reports it busy (right after an umount it often is).
/// </summary>
public sealed class LoopDevice : IDisposable
{
    private static readonly TimeSpan DetachTimeout = TimeSpan.FromSeconds(10);
    private bool _detached;

    private LoopDevice(string path) => Path = path;

    /// <summary>The device node, <c>/dev/loopN</c>.</summary>
    public string Path { get; }

    /// <summary>
    /// Attaches <paramref name="image"/>, or skips the test (under CI=true: fails it) when this machine has no loop
    /// devices. <paramref name="offset"/> and <paramref name="sizeLimit"/> (bytes, 0 = to the end) expose one partition;
    /// <paramref name="sectorSize"/> sets the logical sector size; <paramref name="directIo"/> sets losetup's --direct-io.
    /// </summary>
    public static LoopDevice Attach(string image, long offset = 0, long sizeLimit = 0, int? sectorSize = null, bool? directIo = null)
    {
        Requires.LoopDevice();
        var r = TryAttachCore(image, offset, sizeLimit, sectorSize, directIo);
        return r.Device ?? throw new InvalidOperationException($"cannot attach a loop device to {image}: {r.Reason}");
    }

    private static (LoopDevice? Device, string Reason) TryAttachCore(string image, long offset, long sizeLimit, int? sectorSize, bool? directIo)
    {
        var args = new List<string> { "--find", "--show" };
        if (offset != 0) args.AddRange(["--offset", offset.ToString(CultureInfo.InvariantCulture)]);
        if (sizeLimit != 0) args.AddRange(["--sizelimit", sizeLimit.ToString(CultureInfo.InvariantCulture)]);
        if (sectorSize is { } s) args.AddRange(["--sector-size", s.ToString(CultureInfo.InvariantCulture)]);
        if (directIo is { } d) args.Add("--direct-io=" + (d ? "on" : "off"));
        args.Add(image);
        var r = Tool.Run("losetup", args, check: false);
        var path = r.StdOut.Trim();
        return r.ExitCode == 0 && path.StartsWith("/dev/loop", StringComparison.Ordinal)
            ? (new LoopDevice(path), "")
            : (null, $"losetup exited {r.ExitCode}: {r.StdErr.Trim()}");
    }

    /// <summary>Writes the device's buffered blocks through to the image (before reading the image file directly).</summary>
    public void FlushBuffers() => Tool.Run("blockdev", ["--flushbufs", Path], check: false);

    /// <summary>Why loop devices cannot be used here (no losetup, none free, none in a container), or null: one real attach.</summary>
    internal static string? Unavailable()
    {
        if (!Tool.Exists("losetup")) return "losetup is not installed";
        string probe = System.IO.Path.GetTempFileName();
        try
        {
            using (var f = File.OpenWrite(probe)) f.SetLength(1 << 20);
            var r = TryAttachCore(probe, 0, 0, null, null);
            r.Device?.Dispose();
            return r.Device is null ? "no loop device available: " + r.Reason : null;
        }
        finally
        {
            File.Delete(probe);
        }
    }

    /// <summary>Detaches, retrying while busy (udev or a just-unmounted file system may still hold it).</summary>
    public void Dispose()
    {
        if (_detached) return;
        _detached = true;
        string last = "";
        try
        {
            Eventually.Until(() =>
            {
                var r = Tool.Run("losetup", ["-d", Path], check: false);
                last = r.StdErr.Trim();
                // Detached now, or already gone (autoclear, or another detach won the race).
                return r.ExitCode == 0 || last.Contains("No such device", StringComparison.Ordinal);
            }, DetachTimeout, $"losetup -d {Path}", () => last, poll: TimeSpan.FromMilliseconds(100));
        }
        catch (TimeoutException ex)
        {
            // Not fatal to the test that used it, but leaking loop devices starves later tests: say so loudly.
            Console.Error.WriteLine($"warning: {ex.Message}");
        }
    }
}
