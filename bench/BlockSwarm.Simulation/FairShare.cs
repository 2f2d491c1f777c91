namespace BlockSwarm.Simulation;

/// <summary>
/// Max-min fair rates of flows over capacitated links (progressive filling): every flow gets the same rate until a link
/// fills; the flows crossing it are frozen at that rate and the rest keep growing. This is how long-lived TCP flows of
/// equal RTT share a LAN's links, to first order. A heap of link shares with lazy deletion keeps each fill
/// O(flows × hops × log links), so tens of thousands of flows over thousands of links fit in a millisecond or two.
/// </summary>
public sealed class FairShare
{
    /// <summary>Most links a flow crosses (host up, switch up, switch down, host down).</summary>
    public const int MaxHops = 4;

    private int[] _count = [];
    private int[] _start = [];
    private int[] _members = [];
    private int[] _version = [];
    private double[] _remaining = [];
    private int[] _unfrozen = [];
    private bool[] _frozen = [];
    private readonly PriorityQueue<long, double> _heap = new();

    /// <summary>
    /// Computes <paramref name="rates"/>[f] for flows 0 … <paramref name="flows"/>−1, flow f crossing
    /// <paramref name="hops"/>[f] links <paramref name="path"/>[f·MaxHops …].
    /// </summary>
    public void Compute(int flows, ReadOnlySpan<int> path, ReadOnlySpan<byte> hops, ReadOnlySpan<double> capacity, Span<double> rates)
    {
        int links = capacity.Length;
        if (_count.Length < links)
        {
            _count = new int[links];
            _start = new int[links + 1];
            _version = new int[links];
            _remaining = new double[links];
            _unfrozen = new int[links];
        }
        if (_frozen.Length < flows) _frozen = new bool[Math.Max(flows, _frozen.Length * 2)];
        if (_members.Length < flows * MaxHops) _members = new int[Math.Max(flows * MaxHops, _members.Length * 2)];
        Array.Clear(_count, 0, links);
        for (int f = 0; f < flows; f++)
            for (int h = 0; h < hops[f]; h++) _count[path[f * MaxHops + h]]++;
        _start[0] = 0;
        for (int l = 0; l < links; l++) _start[l + 1] = _start[l] + _count[l];
        Array.Clear(_count, 0, links); // reused as the fill cursor
        for (int f = 0; f < flows; f++)
        {
            _frozen[f] = false;
            rates[f] = 0;
            for (int h = 0; h < hops[f]; h++)
            {
                int l = path[f * MaxHops + h];
                _members[_start[l] + _count[l]++] = f;
            }
        }
        _heap.Clear();
        for (int l = 0; l < links; l++)
        {
            _unfrozen[l] = _count[l];
            _remaining[l] = capacity[l];
            _version[l] = 0;
            if (_count[l] > 0) _heap.Enqueue(Key(l, 0), capacity[l] / _count[l]);
        }
        while (_heap.TryDequeue(out long key, out double share))
        {
            int l = (int)(key >> 32);
            if ((int)key != _version[l] || _unfrozen[l] == 0) continue;
            if (share < 0) share = 0;
            for (int i = _start[l]; i < _start[l + 1]; i++)
            {
                int f = _members[i];
                if (_frozen[f]) continue;
                _frozen[f] = true;
                rates[f] = share;
                for (int h = 0; h < hops[f]; h++)
                {
                    int m = path[f * MaxHops + h];
                    if (m == l) continue;
                    _remaining[m] -= share;
                    if (--_unfrozen[m] > 0) _heap.Enqueue(Key(m, ++_version[m]), Math.Max(0, _remaining[m]) / _unfrozen[m]);
                }
            }
            _unfrozen[l] = 0;
        }
    }

    private static long Key(int link, int version) => ((long)link << 32) | (uint)version;
}
