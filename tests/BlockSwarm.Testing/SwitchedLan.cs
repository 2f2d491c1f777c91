using System.Diagnostics;
using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// A switched LAN of network namespaces: one "switch" namespace holding a Linux bridge and hosts cabled to it with
/// veth pairs (<c>eth0</c> on the host, <c>pN</c> on the bridge). With a rate, every cable is tbf-shaped in both
/// directions: on the host's eth0 (its upload) and on its bridge port (the switch's egress towards it, its download).
/// Addresses exist only inside these namespaces. All names are <c>PREFIX + PID-RANDOM-ROLE</c> (see
/// <see cref="NetworkNamespace.CleanStale"/>). Dispose kills every process and deletes every namespace, hosts first.
/// </summary>
public sealed class SwitchedLan : IDisposable
{
    private readonly List<LanHost> _hosts = [];
    private readonly Dictionary<LanHost, double> _rates = [];
    private readonly Settings _settings;

    private SwitchedLan(Settings settings, string id, NetworkNamespace sw)
    {
        _settings = settings;
        Id = id;
        Switch = sw;
    }

    /// <summary>How every host of this LAN is made.</summary>
    private readonly record struct Settings(string Prefix, string Subnet, double? RateMbit, Action<string>? Log, bool DumpOutputOnDispose);

    /// <summary>PID-RANDOM: what every namespace of this LAN has after the prefix.</summary>
    public string Id { get; }

    /// <summary>The /24 the hosts live on, as its first three octets ("10.77.0").</summary>
    public string Subnet => _settings.Subnet;

    public double? RateMbit => _settings.RateMbit;

    public NetworkNamespace Switch { get; }

    public Stopwatch Clock => Switch.Clock;

    public IReadOnlyList<LanHost> Hosts
    {
        get { lock (_hosts) return [.. _hosts]; }
    }

    /// <summary>
    /// The switch (namespace <c>PREFIX+ID-sw</c>, bridge br0 without IGMP snooping: with no querier it would stop
    /// flooding multicast after a while), or a skip (under CI: a failure) when namespaces cannot be made here.
    /// <paramref name="log"/> gets notes and, with <paramref name="dumpOutputOnDispose"/>, every process's output at dispose.
    /// </summary>
    public static SwitchedLan Create(string prefix, string subnet, double? rateMbit = null, Action<string>? log = null, bool dumpOutputOnDispose = true)
    {
        Requires.NetworkNamespaces();
        if (rateMbit != null) Requires.Tools("tc");
        var id = NetworkNamespace.NewName("");
        var sw = NetworkNamespace.CreateNamed($"{prefix}{id}-sw", log, null, dumpOutputOnDispose);
        var lan = new SwitchedLan(new Settings(prefix, subnet, rateMbit, log, dumpOutputOnDispose), id, sw);
        try
        {
            sw.Ip("link", "add", "br0", "type", "bridge");
            sw.Ip("link", "set", "br0", "type", "bridge", "mcast_snooping", "0");
            sw.SetLink("br0", up: true);
        }
        catch
        {
            lan.Dispose();
            throw;
        }
        return lan;
    }

    /// <summary>Adds host <paramref name="label"/> at <c>SUBNET.<paramref name="octet"/></c>, cabled (and shaped) to a new bridge port.</summary>
    public LanHost AddHost(string label, int octet)
    {
        var ns = NetworkNamespace.CreateNamed($"{_settings.Prefix}{Id}-{label}", _settings.Log, Clock, _settings.DumpOutputOnDispose);
        var port = "p" + Hosts.Count.ToString(CultureInfo.InvariantCulture);
        var host = new LanHost(label, ns, $"{Subnet}.{octet.ToString(CultureInfo.InvariantCulture)}", port);
        lock (_hosts) _hosts.Add(host);
        ns.Cable("eth0", Switch, port);
        ns.AddAddress("eth0", host.Ip + "/24");
        ns.Ip("route", "add", "224.0.0.0/4", "dev", "eth0");
        Switch.Ip("link", "set", port, "master", "br0");
        Switch.SetLink(port, up: true);
        if (RateMbit is { } rate) Shape(host, rate);
        return host;
    }

    /// <summary>The rate <paramref name="host"/>'s cable is shaped to (both ways), or null when it is not shaped.</summary>
    public double? RateOf(LanHost host)
    {
        lock (_hosts) return _rates.TryGetValue(host, out var rate) ? rate : null;
    }

    /// <summary>Reshapes <paramref name="host"/>'s cable, both ways, to <paramref name="rateMbit"/>: a slower (or faster) machine on the same switch.</summary>
    public void SetRate(LanHost host, double rateMbit)
    {
        Switch.Note(string.Create(CultureInfo.InvariantCulture, $"link {host.Label} at {rateMbit:0.###} Mbit/s"));
        Shape(host, rateMbit);
    }

    private void Shape(LanHost host, double rateMbit)
    {
        host.Namespace.Shape("eth0", rateMbit);
        Switch.Shape(host.SwitchPort, rateMbit);
        lock (_hosts) _rates[host] = rateMbit;
    }

    /// <summary>Pulls or plugs a host's cable (its switch port goes down: no carrier on either end).</summary>
    public void SetLink(LanHost host, bool up)
    {
        Switch.Note($"link {host.Label} {(up ? "up" : "down")}");
        Switch.SetLink(host.SwitchPort, up);
    }

    /// <summary>Every process started on any host so far.</summary>
    public IReadOnlyList<RunningProcess> Processes => [.. Hosts.SelectMany(h => h.Namespace.Processes)];

    public void Dispose()
    {
        foreach (var h in Hosts.Reverse()) h.Namespace.Dispose();
        Switch.Dispose();
    }
}
