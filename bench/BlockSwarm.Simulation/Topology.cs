using System.Net;

namespace BlockSwarm.Simulation;

/// <summary>Where the origin's cable goes.</summary>
public enum OriginPlacement
{
    /// <summary>On the core switch, its own link (rate <see cref="NetworkShape.OriginRate"/>) in and out.</summary>
    Core,

    /// <summary>On the first access switch, beside the clients of that switch.</summary>
    FirstSwitch,
}

/// <summary>The room to simulate: clients on access switches, uplinks to a core, the origin somewhere in the tree.</summary>
public sealed record NetworkShape
{
    /// <summary>Clients (the origin is extra).</summary>
    public required int Clients { get; init; }

    /// <summary>Clients per access switch; at least <see cref="Clients"/> = one flat switch and no uplinks.</summary>
    public int PerSwitch { get; init; } = int.MaxValue;

    /// <summary>Each client's cable, bits/s, both ways.</summary>
    public double AccessRate { get; init; } = 1e9;

    /// <summary>Each access switch's uplink to the core, bits/s, both ways.</summary>
    public double UplinkRate { get; init; } = 10e9;

    /// <summary>The origin's cable, bits/s; null = <see cref="AccessRate"/>.</summary>
    public double? OriginRate { get; init; }

    public OriginPlacement Origin { get; init; } = OriginPlacement.Core;

    /// <summary>Clients (by index, 1-based as hosts) whose cable runs at <see cref="AccessRate"/> ÷ their factor.</summary>
    public IReadOnlyDictionary<int, double> SlowClients { get; init; } = new Dictionary<int, double>();

    public int SwitchCount => PerSwitch >= Clients ? 1 : (Clients + PerSwitch - 1) / PerSwitch;

    /// <summary>True when there is more than one access switch (and so uplinks).</summary>
    public bool IsTree => SwitchCount > 1;
}

/// <summary>
/// The links of a <see cref="NetworkShape"/>: each host's cable (up: host → switch, down: switch → host) and each access
/// switch's uplink (up: switch → core, down: core → switch). Capacities are payload bytes per second: the cable's rate
/// times the share of an Ethernet frame that is TCP payload. A path between two hosts crosses 2 links under one switch,
/// 4 across the core (3 to or from an origin on the core).
/// </summary>
public sealed class Topology
{
    private readonly int[] _hostUp, _hostDown, _switchOf, _switchUp, _switchDown;

    /// <param name="payloadShare">Payload bytes per byte on the cable: 1448/1514 for TCP with timestamps in full frames.</param>
    public Topology(NetworkShape shape, double payloadShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shape.Clients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(shape.PerSwitch, 1);
        Shape = shape;
        int hosts = shape.Clients + 1;
        int switches = shape.SwitchCount;
        HostCount = hosts;
        SwitchCount = switches;
        _hostUp = new int[hosts];
        _hostDown = new int[hosts];
        _switchOf = new int[hosts];
        _switchUp = new int[switches];
        _switchDown = new int[switches];
        var capacity = new List<double>();
        var names = new List<string>();
        int Add(double bitsPerSecond, string name)
        {
            capacity.Add(bitsPerSecond / 8 * payloadShare);
            names.Add(name);
            return capacity.Count - 1;
        }
        double originRate = shape.OriginRate ?? shape.AccessRate;
        for (int h = 0; h < hosts; h++)
        {
            double rate = h == 0 ? originRate : shape.AccessRate / shape.SlowClients.GetValueOrDefault(h, 1);
            string who = h == 0 ? "origin" : $"client {h}";
            _hostUp[h] = Add(rate, who + " up");
            _hostDown[h] = Add(rate, who + " down");
            _switchOf[h] = h == 0
                ? (shape.Origin == OriginPlacement.Core && switches > 1 ? -1 : 0)
                : (h - 1) / Math.Min(shape.PerSwitch, shape.Clients);
        }
        FirstUplink = capacity.Count;
        for (int s = 0; s < switches; s++)
        {
            _switchUp[s] = switches > 1 ? Add(shape.UplinkRate, $"switch {s} uplink up") : -1;
            _switchDown[s] = switches > 1 ? Add(shape.UplinkRate, $"switch {s} uplink down") : -1;
        }
        Capacity = [.. capacity];
        BaseCapacity = [.. capacity];
        Names = [.. names];
    }

    public NetworkShape Shape { get; }

    /// <summary>Hosts: 0 is the origin, 1…N the clients.</summary>
    public int HostCount { get; }

    public int SwitchCount { get; }

    /// <summary>Payload bytes/s each link carries now (an outage sets a link to 0).</summary>
    public double[] Capacity { get; }

    /// <summary>Payload bytes/s each link carries when up.</summary>
    public double[] BaseCapacity { get; }

    public string[] Names { get; }

    public int LinkCount => Capacity.Length;

    /// <summary>Links from here on are uplinks (two per switch: up, down).</summary>
    public int FirstUplink { get; }

    /// <summary>The access switch a host is on; -1 = the origin on the core.</summary>
    public int SwitchOf(int host) => _switchOf[host];

    public int UplinkUp(int @switch) => _switchUp[@switch];

    public int UplinkDown(int @switch) => _switchDown[@switch];

    /// <summary>Fills <paramref name="links"/> with the links a flow from <paramref name="from"/> to <paramref name="to"/> crosses; returns how many.</summary>
    public int Path(int from, int to, Span<int> links)
    {
        int n = 0;
        links[n++] = _hostUp[from];
        int a = _switchOf[from], b = _switchOf[to];
        if (a != b)
        {
            if (a >= 0 && _switchUp[a] >= 0) links[n++] = _switchUp[a];
            if (b >= 0 && _switchDown[b] >= 0) links[n++] = _switchDown[b];
        }
        links[n++] = _hostDown[to];
        return n;
    }

    /// <summary>The payload rate of a host's cable (bytes/s), the smaller of its two directions.</summary>
    public double HostRate(int host) => Math.Min(BaseCapacity[_hostUp[host]], BaseCapacity[_hostDown[host]]);

    /// <summary>
    /// The host's address on the simulated LAN: one /24 per access switch when a switch has at most 250 ports
    /// (10.1.S.x, the origin 10.255.0.1), else numbered through 10.0.0.0/16 (one flat switch of more than 250 hosts:
    /// the simulator then treats every host as local, as a /16 netmask would). Unique per host: the tracker keys on it.
    /// </summary>
    public IPAddress Address(int host)
    {
        if (host == 0) return new IPAddress([10, 255, 0, 1]);
        int s = _switchOf[host];
        if (Shape.PerSwitch <= 250 && SwitchCount > 1)
        {
            int i = (host - 1) % Shape.PerSwitch;
            return new IPAddress([10, (byte)(1 + s / 256), (byte)(s % 256), (byte)(i + 2)]);
        }
        return new IPAddress([10, 0, (byte)(host / 250), (byte)(host % 250 + 2)]);
    }
}
