namespace BlockSwarm.Testing;

/// <summary>The last lines of a process's output, for error messages that fit on a screen.</summary>
internal static class OutputTail
{
    public const int DefaultLines = 40;

    public static string Last(string text, int lines = DefaultLines)
    {
        var all = text.TrimEnd('\n').Split('\n');
        return all.Length <= lines ? string.Join('\n', all) : $"(… {all.Length - lines} earlier lines)\n" + string.Join('\n', all[^lines..]);
    }

    public static string Describe(string stdout, string stderr) =>
        $"--- stdout (last lines) ---\n{Last(stdout)}\n--- stderr (last lines) ---\n{Last(stderr)}";
}
