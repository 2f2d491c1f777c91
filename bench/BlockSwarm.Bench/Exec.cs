using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>Runs external programs (partclone, sha1sum, the CLI) to completion on the shared runner and times them.</summary>
public static class Exec
{
    /// <summary>Benchmarks of large images outlast the tests' 5-minute limit; a hung tool still ends the run.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromHours(2);

    /// <summary>Runs to completion; throws with the exit code and the output's last lines when it fails. Returns the wall time.</summary>
    public static TimeSpan Run(string file, params string[] args) => Tool.Run(file, args, timeout: Limit).Elapsed;
}
