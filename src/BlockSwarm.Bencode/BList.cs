using System.Collections;

namespace BlockSwarm.Bencode;

/// <summary>An ordered list of values.</summary>
public sealed class BList : BValue, IReadOnlyList<BValue>
{
    private readonly List<BValue> _items;

    public BList() => _items = [];

    public BList(IEnumerable<BValue> items) => _items = [.. items];

    public BValue this[int index] => _items[index];

    public int Count => _items.Count;

    public void Add(BValue value) => _items.Add(value ?? throw new ArgumentNullException(nameof(value)));

    public IEnumerator<BValue> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
