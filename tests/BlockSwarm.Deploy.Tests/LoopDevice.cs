using BlockSwarm.Testing;

namespace BlockSwarm.Deploy.Tests;

/// <summary>A loop device over an image file (losetup), detached on dispose. Needs root.</summary>
internal sealed class LoopDevice : IDisposable
{
    public LoopDevice(string image)
    {
        Path = Tool.Run("losetup", "--find", "--show", image).StdOut.Trim();
        if (!Path.StartsWith("/dev/loop", StringComparison.Ordinal)) throw new InvalidOperationException($"losetup gave '{Path}'");
    }

    public string Path { get; }

    public void Dispose() => Tool.Run("losetup", ["-d", Path], check: false);
}
