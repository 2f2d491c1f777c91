namespace BlockSwarm.Bencode;

/// <summary>A decoded bencode value: <see cref="BString"/>, <see cref="BInteger"/>, <see cref="BList"/> or <see cref="BDictionary"/>.</summary>
public abstract class BValue
{
    private protected BValue() { }

    /// <summary>Where this value was found in the decoded input (start offset, length); default when built in code.</summary>
    public Range SourceRange { get; internal set; }
}
