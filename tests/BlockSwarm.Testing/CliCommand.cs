namespace BlockSwarm.Testing;

/// <summary>
/// How the bench and the lab start a BlockSwarm CLI build: a native executable (the NativeAOT publish, or an apphost)
/// runs as itself; a <c>blockswarm.dll</c> runs under the dotnet host.
/// </summary>
public static class CliCommand
{
    /// <summary>
    /// The CLI a deployment ships, as <c>build/PublishCli.targets</c> puts it into <c>cli/</c> next to
    /// <paramref name="baseDirectory"/> (the NativeAOT binary, or blockswarm.dll of a ReadyToRun publish),
    /// else the plain build output next to it.
    /// </summary>
    public static string DefaultPath(string baseDirectory)
    {
        string native = Path.Combine(baseDirectory, "cli", "blockswarm");
        if (File.Exists(native) && !File.Exists(native + ".dll")) return native;
        string published = Path.Combine(baseDirectory, "cli", "blockswarm.dll");
        return File.Exists(published) ? published : Path.Combine(baseDirectory, "blockswarm.dll");
    }

    /// <summary>The program to start and its arguments for <paramref name="cli"/> (an executable or a .dll) running <paramref name="args"/>.</summary>
    public static (string FileName, List<string> Arguments) For(string cli, IEnumerable<string> args)
    {
        string full = Path.GetFullPath(cli);
        return full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? (DotnetHost, [full, .. args])
            : (full, [.. args]);
    }

    /// <summary>The dotnet host: DOTNET_HOST_PATH (set under <c>dotnet test</c>), else <c>dotnet</c> on PATH.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("dotnet host not found (DOTNET_HOST_PATH, PATH)");
}
