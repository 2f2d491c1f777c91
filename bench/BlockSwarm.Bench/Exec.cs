using System.Diagnostics;

namespace BlockSwarm.Bench;

/// <summary>Runs external programs (partclone, sha1sum, the CLI) and times them.</summary>
public static class Exec
{
    /// <summary>Runs to completion, discarding output; throws with stderr when it fails. Returns the wall time.</summary>
    public static TimeSpan Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        sw.Stop();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return sw.Elapsed;
    }
}
