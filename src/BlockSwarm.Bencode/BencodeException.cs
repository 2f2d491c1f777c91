namespace BlockSwarm.Bencode;

/// <summary>Malformed or non-canonical bencode; <see cref="Offset"/> is the byte where the problem was found.</summary>
public sealed class BencodeException : FormatException
{
    public BencodeException() : base("malformed bencode") { }

    public BencodeException(string message) : base(message) { }

    public BencodeException(string message, Exception inner) : base(message, inner) { }

    public BencodeException(string problem, long offset) : base($"{problem} at byte {offset}")
    {
        Problem = problem;
        Offset = offset;
    }

    /// <summary>The problem without the offset suffix.</summary>
    public string? Problem { get; }

    /// <summary>Byte offset into the input where decoding failed, or -1.</summary>
    public long Offset { get; } = -1;
}
