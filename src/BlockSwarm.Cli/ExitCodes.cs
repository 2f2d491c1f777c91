namespace BlockSwarm.Cli;

/// <summary>Process exit codes; distinct so scripts (and Clonezilla-style wrappers) can branch on them.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Bad input or an I/O error: the message says which.</summary>
    public const int Error = 1;

    /// <summary>The command line could not be parsed.</summary>
    public const int Usage = 2;

    /// <summary>Data was checked and some pieces are wrong.</summary>
    public const int VerifyFailed = 3;

    /// <summary>The target was refused by the safety checks before any byte was written.</summary>
    public const int TargetRefused = 4;

    /// <summary>The deployment server could not be reached.</summary>
    public const int ServerUnreachable = 5;

    /// <summary>
    /// The server is not the one <c>deploy --server-key</c> names (another key signed the job, its TLS certificate is on
    /// another key) or what it sent was changed on the way; nothing was written.
    /// </summary>
    public const int ServerNotTrusted = 6;

    /// <summary>Interrupted (Ctrl-C / SIGTERM).</summary>
    public const int Interrupted = 130;
}
