namespace BlockSwarm.Cli;

/// <summary>
/// Where <c>serve</c> keeps what must outlive a run (its signing key, its operator token): <c>$BLOCKSWARM_STATE</c>, else
/// systemd's <c>$STATE_DIRECTORY</c> (<c>/var/lib/blockswarm</c> under blockswarm-serve.service), else
/// <c>$XDG_STATE_HOME/blockswarm</c>, else <c>~/.local/state/blockswarm</c>.
/// </summary>
public static class StateDirectory
{
    public static string Path
    {
        get
        {
            if (Environment.GetEnvironmentVariable("BLOCKSWARM_STATE") is { Length: > 0 } own) return own;
            // systemd may list several directories, separated by colons: the first is the unit's own.
            if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd) return systemd.Split(':')[0];
            if (Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } xdg) return System.IO.Path.Combine(xdg, "blockswarm");
            return System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "blockswarm");
        }
    }

    /// <summary>serve's signing key unless <c>--signing-key</c> names another.</summary>
    public static string SigningKey => System.IO.Path.Combine(Path, "serve-signing-key.pem");

    /// <summary>serve's operator token unless <c>--operator-token-file</c> names another.</summary>
    public static string OperatorToken => System.IO.Path.Combine(Path, "operator-token");
}
