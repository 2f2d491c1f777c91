using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace BlockSwarm.Bencode;

/// <summary>
/// A dictionary with byte-string keys. Enumeration is in raw-byte key order (canonical
/// bencode order), whatever order entries were added in.
/// </summary>
public sealed class BDictionary : BValue, IEnumerable<KeyValuePair<BString, BValue>>
{
    private readonly SortedDictionary<BString, BValue> _entries = new();

    public int Count => _entries.Count;

    public IEnumerable<BString> Keys => _entries.Keys;

    public BValue this[string key]
    {
        get => _entries[new BString(key)];
        set => _entries[new BString(key)] = value ?? throw new ArgumentNullException(nameof(value));
    }

    public BValue this[BString key]
    {
        get => _entries[key];
        set => _entries[key] = value ?? throw new ArgumentNullException(nameof(value));
    }

    public void Add(string key, BValue value) => _entries.Add(new BString(key), value ?? throw new ArgumentNullException(nameof(value)));

    public void Add(BString key, BValue value) => _entries.Add(key, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Adds a key during decoding; false if it is already present.</summary>
    internal bool TryAdd(BString key, BValue value) => _entries.TryAdd(key, value);

    public bool ContainsKey(string key) => _entries.ContainsKey(new BString(key));

    public bool Remove(string key) => _entries.Remove(new BString(key));

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out BValue value) => _entries.TryGetValue(new BString(key), out value);

    /// <summary>The value under <paramref name="key"/> if it exists and is a <typeparamref name="T"/>.</summary>
    public T? Get<T>(string key) where T : BValue => TryGetValue(key, out var v) ? v as T : null;

    /// <summary>
    /// The value under <paramref name="key"/>; throws <see cref="BencodeException"/> naming the key
    /// when it is missing or of another type.
    /// </summary>
    public T Require<T>(string key) where T : BValue
    {
        if (!TryGetValue(key, out var v))
            throw new BencodeException($"missing required key '{key}'", SourceRange.Start.Value);
        return v as T ?? throw new BencodeException(
            $"key '{key}' must be {Describe(typeof(T))}, found {Describe(v.GetType())}", v.SourceRange.Start.Value);
    }

    private static string Describe(Type t) =>
        t == typeof(BString) ? "a string" : t == typeof(BInteger) ? "an integer" : t == typeof(BList) ? "a list" : t == typeof(BDictionary) ? "a dictionary" : t.Name;

    public IEnumerator<KeyValuePair<BString, BValue>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
