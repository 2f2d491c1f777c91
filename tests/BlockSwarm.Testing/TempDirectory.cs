namespace BlockSwarm.Testing;

/// <summary>A scratch directory removed when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? prefix = null)
    {
        Path = Directory.CreateTempSubdirectory("blockswarm-" + (prefix ?? "test") + "-").FullName;
    }

    private TempDirectory(DirectoryInfo made)
    {
        Path = made.FullName;
    }

    /// <summary>A scratch directory on tmpfs (/dev/shm; skips, or fails under CI, without one), for targets kept in memory.</summary>
    public static TempDirectory OnTmpfs(string prefix)
    {
        Requires.All(Need.Tmpfs);
        return new TempDirectory(Directory.CreateDirectory(System.IO.Path.Combine("/dev/shm", $"blockswarm-{prefix}-{Guid.NewGuid():N}")));
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a loop device or mount may still hold a file; the OS cleans /tmp */ }
        catch (UnauthorizedAccessException) { }
    }
}
