namespace BlockSwarm.Fuzz;

/// <summary>An input was accepted but the result breaks a property the parser promises; a crash.</summary>
public sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException() { }
    public FuzzInvariantException(string message) : base(message) { }
    public FuzzInvariantException(string message, Exception inner) : base(message, inner) { }

    internal static void Check(bool condition, string what)
    {
        if (!condition) throw new FuzzInvariantException(what);
    }
}
