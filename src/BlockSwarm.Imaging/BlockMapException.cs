namespace BlockSwarm.Imaging;

/// <summary>A block map (or the source it was read from) is inconsistent. The message names the problem.</summary>
public sealed class BlockMapException : Exception
{
    public BlockMapException() { }
    public BlockMapException(string message) : base(message) { }
    public BlockMapException(string message, Exception inner) : base(message, inner) { }
}
