namespace BlockSwarm.Ezio;

/// <summary>
/// Tells whoever runs the daemon (the CLI) that the API asked it to stop, once the Shutdown answer has been sent: the
/// daemon has already flushed by then, so what is left is to stop the gRPC server and exit.
/// </summary>
public sealed class EzioShutdownSignal
{
    private readonly TaskCompletionSource _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the API's Shutdown has answered.</summary>
    public Task Requested => _requested.Task;

    public void Request() => _requested.TrySetResult();
}
