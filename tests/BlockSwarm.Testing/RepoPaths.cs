namespace BlockSwarm.Testing;

/// <summary>Locates the repository root (the folder holding BlockSwarm.slnx) from a test's base directory.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "BlockSwarm.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (BlockSwarm.slnx) not found");
    }

    /// <summary>Path of the built blockswarm CLI (the framework-dependent dll next to the tests).</summary>
    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "blockswarm.dll");
}
