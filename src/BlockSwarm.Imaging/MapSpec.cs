namespace BlockSwarm.Imaging;

/// <summary>How to obtain a block map: <c>auto</c>, <c>all</c>, <c>nonzero</c> or <c>partclone:FILE</c>.</summary>
public sealed record MapSpec(MapKind Kind, string? Path = null)
{
    public static MapSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith("partclone:", StringComparison.Ordinal))
        {
            var path = text["partclone:".Length..];
            if (path.Length == 0) throw new FormatException("--map partclone:FILE needs the path of partclone's torrent.info");
            return new MapSpec(MapKind.Partclone, path);
        }
        return text switch
        {
            "auto" => new MapSpec(MapKind.Auto),
            "all" => new MapSpec(MapKind.All),
            "nonzero" => new MapSpec(MapKind.NonZero),
            _ => throw new FormatException($"unknown map '{text}': use auto, all, nonzero or partclone:FILE"),
        };
    }

    public override string ToString() => Kind == MapKind.Partclone ? $"partclone:{Path}" : Kind.ToString().ToLowerInvariant();
}

public enum MapKind
{
    Auto,
    All,
    NonZero,
    Partclone,
}
