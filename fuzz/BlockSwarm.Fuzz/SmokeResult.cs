namespace BlockSwarm.Fuzz;

/// <summary>What a smoke run did: how many inputs were accepted and rejected, and the first crash if any.</summary>
public sealed record SmokeResult(string Target, int Iterations, int Accepted, int Rejected, byte[]? CrashInput, Exception? CrashException)
{
    public bool Crashed => CrashInput != null;

    public override string ToString() => Crashed
        ? $"{Target}: CRASH after {Iterations} inputs: {CrashException!.GetType().FullName}: {CrashException.Message}"
        : $"{Target}: {Iterations} inputs, {Accepted} accepted, {Rejected} rejected, no crash";
}
