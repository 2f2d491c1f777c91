namespace BlockSwarm.Testing;

/// <summary>Runs external tools (mkfs, partclone, ip, tc, python3-libtorrent, aria2c, …) to completion on <see cref="RunningProcess"/>.</summary>
public static class Tool
{
    /// <summary>Long enough for mkfs of a large sparse image on a loaded 2-core machine; a hung tool still ends the test.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Debian's python (python3-libtorrent lives there, not in a pyenv python3 that may come first on PATH).</summary>
    public const string SystemPython = "/usr/bin/python3";

    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs a program to completion; throws when it fails unless <paramref name="check"/> is false.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, bool check = true, string? stdin = null,
        TimeSpan? timeout = null, IDictionary<string, string>? env = null, string? workDir = null) =>
        Run(new ProcessSpec(file, [.. args])
        {
            Environment = env is null ? null : new Dictionary<string, string>(env),
            WorkingDirectory = workDir,
            RedirectInput = stdin != null,
        }, check, stdin, timeout);

    public static ProcessResult Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>Runs <paramref name="spec"/> to completion (killed after <paramref name="timeout"/>, 5 min by default).</summary>
    public static ProcessResult Run(ProcessSpec spec, bool check = true, string? stdin = null, TimeSpan? timeout = null)
    {
        using var p = RunningProcess.Start(spec);
        if (stdin != null)
        {
            p.WriteInput(stdin);
            p.CloseInput();
        }
        p.WaitForExit(timeout ?? DefaultTimeout);
        var r = p.Result;
        return check ? r.EnsureSuccess() : r;
    }

    /// <summary>Runs a shell snippet with bash -c.</summary>
    public static ProcessResult Sh(string script, bool check = true) => Run("/bin/bash", ["-c", script], check);

    /// <summary>The full path of an executable on PATH (or the given absolute path when it exists), else null.</summary>
    public static string? Which(string name)
    {
        if (name.Contains('/')) return File.Exists(name) ? name : null;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        // Debian keeps mkfs.*, losetup and tc in sbin, which a non-login PATH may lack.
        return path.Split(':').Concat(["/usr/sbin", "/sbin"]).Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    public static bool Exists(string name) => Which(name) != null;
}
