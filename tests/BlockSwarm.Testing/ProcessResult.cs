namespace BlockSwarm.Testing;

/// <summary>How a process that ran to completion ended, and what it printed.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Wall time from start to exit (what the benchmarks time a tool by).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Throws, naming the command, its exit code and the last lines of each stream, unless it exited 0.</summary>
    public ProcessResult EnsureSuccess()
    {
        if (ExitCode != 0)
            throw new InvalidOperationException($"{CommandLine} exited {ExitCode}\n{OutputTail.Describe(StdOut, StdErr)}");
        return this;
    }
}
