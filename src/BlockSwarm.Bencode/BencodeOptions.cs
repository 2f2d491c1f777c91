namespace BlockSwarm.Bencode;

/// <summary>Limits and strictness of the decoder.</summary>
public sealed record BencodeOptions
{
    /// <summary>The default: strict canonical form, depth 64, strings up to 64 MiB.</summary>
    public static BencodeOptions Strict { get; } = new();

    /// <summary>
    /// Accepts dictionaries whose keys are out of order (some tools write them so); duplicates
    /// and every other rule still apply. Hashes must then be taken over raw bytes, which
    /// <see cref="BValue.SourceRange"/> makes possible.
    /// </summary>
    public static BencodeOptions Lenient { get; } = new() { RequireSortedKeys = false };

    /// <summary>Maximum nesting of lists and dictionaries.</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>Longest byte string accepted (a 16 MiB-piece torrent of a 4 TiB disk has 5 MiB of piece hashes).</summary>
    public int MaxStringLength { get; init; } = 64 << 20;

    /// <summary>Reject dictionaries whose keys are not in strictly ascending raw-byte order.</summary>
    public bool RequireSortedKeys { get; init; } = true;

    /// <summary>Reject bytes after the top-level value.</summary>
    public bool RejectTrailingBytes { get; init; } = true;
}
