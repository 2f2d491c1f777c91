namespace BlockSwarm.Testing;

/// <summary>A loop device over an image file (losetup), detached on dispose. Needs root and a free /dev/loopN.</summary>
public sealed class LoopDevice : IDisposable
{
    private LoopDevice(string path) => Path = path;

    public string Path { get; }

    /// <summary>
    /// Attaches <paramref name="image"/> (with a logical sector size when given), or returns null with the reason when
    /// this machine cannot: not root, no losetup, no free loop device (containers often have none).
    /// </summary>
    public static LoopDevice? TryAttach(string image, out string reason, int? sectorSize = null)
    {
        if (!Tool.IsRoot)
        {
            reason = "loop devices need root";
            return null;
        }
        if (!Tool.Exists("losetup"))
        {
            reason = "losetup is not installed";
            return null;
        }
        var args = new List<string> { "--find", "--show" };
        if (sectorSize is { } s) args.AddRange(["--sector-size", s.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.Add(image);
        var r = Tool.Run("losetup", args, check: false);
        var path = r.StdOut.Trim();
        if (r.ExitCode != 0 || !path.StartsWith("/dev/loop", StringComparison.Ordinal))
        {
            reason = $"no loop device available: losetup exited {r.ExitCode}: {r.StdErr.Trim()}";
            return null;
        }
        reason = "";
        return new LoopDevice(path);
    }

    public void Dispose() => Tool.Run("losetup", ["-d", Path], check: false);
}
