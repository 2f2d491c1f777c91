namespace BlockSwarm.Ezio;

/// <summary>A request the daemon refused, with the reason an operator reads in the client's error.</summary>
public sealed class DaemonException(DaemonError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public DaemonError Error { get; } = error;
}
