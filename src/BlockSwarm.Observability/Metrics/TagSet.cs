namespace BlockSwarm.Observability.Metrics;

/// <summary>
/// One series' tags, sorted by key so that the same tags given in another order are the same series. Immutable; made
/// once per new series, never on the recording path of a series that already exists.
/// </summary>
internal sealed class TagSet
{
    public static readonly TagSet Empty = new([], 0);

    private TagSet(KeyValuePair<string, object?>[] tags, int hash)
    {
        Tags = tags;
        Hash = hash;
    }

    public KeyValuePair<string, object?>[] Tags { get; }

    public int Hash { get; }

    public static TagSet From(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty) return Empty;
        var copy = tags.ToArray();
        Array.Sort(copy, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new TagSet(copy, HashOf(tags));
    }

    /// <summary>Independent of order: a sum of per-tag hashes, so a span can be hashed without sorting it first.</summary>
    public static int HashOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        int h = tags.Length;
        foreach (var t in tags) h += HashCode.Combine(t.Key, t.Value);
        return h;
    }

    /// <summary>Whether <paramref name="tags"/>, in any order, are exactly these tags.</summary>
    public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length != Tags.Length) return false;
        foreach (var t in tags)
        {
            int i = Find(t.Key);
            if (i < 0 || !Equals(Tags[i].Value, t.Value)) return false;
        }
        return true;
    }

    private int Find(string key)
    {
        int lo = 0, hi = Tags.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = string.CompareOrdinal(Tags[mid].Key, key);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }
}

/// <summary>
/// Compares tag sets, and tag sets with the span a measurement arrives with: the series dictionary is searched with
/// the span itself (an alternate lookup), so recording on an existing series allocates nothing.
/// </summary>
internal sealed class TagSetComparer : IEqualityComparer<TagSet>, IAlternateEqualityComparer<ReadOnlySpan<KeyValuePair<string, object?>>, TagSet>
{
    public static readonly TagSetComparer Instance = new();

    public bool Equals(TagSet? x, TagSet? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.Hash == y.Hash && x.Matches(y.Tags));

    public int GetHashCode(TagSet obj) => obj.Hash;

    public bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> alternate, TagSet other) => other.Matches(alternate);

    public int GetHashCode(ReadOnlySpan<KeyValuePair<string, object?>> alternate) => TagSet.HashOf(alternate);

    public TagSet Create(ReadOnlySpan<KeyValuePair<string, object?>> alternate) => TagSet.From(alternate);
}
