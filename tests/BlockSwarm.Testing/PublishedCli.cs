namespace BlockSwarm.Testing;

/// <summary>The CLI as it ships: the NativeAOT binary build/PublishCli.targets publishes into artifacts/cli-aot-CONFIG/.</summary>
public static class PublishedCli
{
    /// <summary>The newest of artifacts/cli-aot-Release|Debug/blockswarm; skips (fails under CI=true) when there is none.</summary>
    public static string Binary()
    {
        var found = new[] { "Release", "Debug" }
            .Select(c => Path.Combine(RepoPaths.Root, "artifacts", $"cli-aot-{c}", "blockswarm"))
            .Where(File.Exists)
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault();
        // CI builds the solution, which publishes it: missing there, the build is broken, so this fails under CI=true.
        Requires.That(found != null, "no NativeAOT publish in artifacts/cli-aot-*/ (build bench/BlockSwarm.Bench or the solution: ./test.sh does)");
        return found!;
    }
}
