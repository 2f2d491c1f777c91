using System.Diagnostics;
using System.Text;

namespace BlockSwarm.Testing;

/// <summary>Runs real external tools (mkfs, partclone, python3-libtorrent, aria2c, ...) for tests.</summary>
public static class Tool
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public Result EnsureSuccess(string what)
        {
            if (ExitCode != 0)
                throw new InvalidOperationException($"{what} exited {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}");
            return this;
        }
    }

    /// <summary>Runs a program to completion; throws when it fails unless <paramref name="check"/> is false.</summary>
    public static Result Run(string file, IEnumerable<string> args, bool check = true, string? stdin = null,
        TimeSpan? timeout = null, IDictionary<string, string>? env = null, string? workDir = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin != null,
            UseShellExecute = false,
        };
        if (workDir != null) psi.WorkingDirectory = workDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (stdin != null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        var r = new Result(p.ExitCode, stdout.ToString(), stderr.ToString());
        return check ? r.EnsureSuccess($"{file} {string.Join(' ', args)}") : r;
    }

    public static Result Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>Runs a shell snippet with bash -c.</summary>
    public static Result Sh(string script, bool check = true) => Run("/bin/bash", ["-c", script], check);

    /// <summary>True when an executable is on PATH or at the given absolute path.</summary>
    public static bool Exists(string name)
    {
        if (name.Contains('/')) return System.IO.File.Exists(name);
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(':').Any(d => d.Length > 0 && System.IO.File.Exists(System.IO.Path.Combine(d, name)));
    }

    /// <summary>Debian's python (python3-libtorrent lives there, not in pyenv's python3 first on PATH).</summary>
    public const string SystemPython = "/usr/bin/python3";

    public static bool IsRoot => Environment.UserName == "root";
}
