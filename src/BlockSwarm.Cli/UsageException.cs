namespace BlockSwarm.Cli;

/// <summary>Options that parse but do not fit together: reported as one line and exit code 2 (usage).</summary>
internal sealed class UsageException(string message) : Exception(message);
