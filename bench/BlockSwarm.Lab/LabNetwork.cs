using System.Diagnostics;
using System.Globalization;
using BlockSwarm.BenchShared;

namespace BlockSwarm.Lab;

/// <summary>One machine of the lab: a network namespace with one NIC (<c>eth0</c>) cabled to the switch.</summary>
public sealed record LabHost(string Label, string Namespace, string Ip, string SwitchPort);

/// <summary>
/// A switched LAN made of network namespaces: one "switch" namespace holding a Linux bridge, one server
/// and N client namespaces, each cabled to the bridge with a veth pair. Every cable is shaped in both
/// directions with <c>tbf</c> at the same rate: on the host's <c>eth0</c> (its upload) and on the
/// bridge's port (its download, the switch's egress towards it). Addresses (10.77.0.0/24) exist only
/// inside these namespaces. Namespaces are named <c>bslab-PID-RANDOM-…</c>; <see cref="CleanStale"/> removes
/// those whose creating process is gone. Dispose kills every process started here and deletes everything,
/// whatever happened before.
/// </summary>
public sealed class LabNetwork : IDisposable
{
    public const string Prefix = "bslab-";
    public const string Subnet = "10.77.0";

    private readonly List<LabProcess> _processes = [];
    private readonly List<string> _namespaces = [];
    private readonly Action<string> _log;
    private bool _disposed;

    private LabNetwork(string id, double rateMbit, Action<string> log)
    {
        Id = id;
        RateMbit = rateMbit;
        _log = log;
    }

    public string Id { get; }
    public double RateMbit { get; }
    public string SwitchNamespace => $"{Prefix}{Id}-sw";
    public LabHost Server { get; private set; } = null!;
    public IReadOnlyList<LabHost> Clients { get; private set; } = [];
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>Why the lab cannot run here (not root, a tool missing), or null.</summary>
    public static string? Unavailable()
    {
        if (Environment.UserName != "root") return "the swarm lab needs root (ip netns, tc)";
        foreach (var t in new[] { "ip", "tc" })
            if (!Sh.Exists(t)) return $"{t} is not installed";
        return null;
    }

    /// <summary>Deletes lab namespaces left behind by processes that no longer run (a crashed or killed lab).</summary>
    public static void CleanStale(Action<string>? log = null)
    {
        var list = Sh.Run("ip", ["netns", "list"], check: false).StdOut;
        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var pidText = name[Prefix.Length..].Split('-')[0];
            if (int.TryParse(pidText, CultureInfo.InvariantCulture, out var pid) && Directory.Exists($"/proc/{pid}")) continue;
            log?.Invoke($"removing stale lab namespace {name}");
            KillNamespaceProcesses(name);
            Sh.Run("ip", ["netns", "delete", name], check: false);
        }
    }

    /// <summary>Builds the switch, the server (10.77.0.1) and <paramref name="clients"/> clients (10.77.0.11, …).</summary>
    public static LabNetwork Create(int clients, double rateMbit, Action<string>? log = null)
    {
        if (clients is < 0 or > 200) throw new ArgumentOutOfRangeException(nameof(clients));
        CleanStale(log);
        var id = $"{Environment.ProcessId}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3))}";
        var net = new LabNetwork(id, rateMbit, log ?? (_ => { }));
        try
        {
            net.AddNamespace(net.SwitchNamespace);
            Ip(net.SwitchNamespace, "link", "add", "br0", "type", "bridge");
            // No IGMP snooping: without a querier the bridge would stop flooding multicast after a while.
            Ip(net.SwitchNamespace, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0");
            Ip(net.SwitchNamespace, "link", "set", "br0", "up");
            net.Server = net.AddHost("server", 0, $"{Subnet}.1");
            var list = new List<LabHost>();
            for (int i = 0; i < clients; i++) list.Add(net.AddHost($"c{i + 1}", i + 1, $"{Subnet}.{11 + i}"));
            net.Clients = list;
        }
        catch
        {
            net.Dispose();
            throw;
        }
        return net;
    }

    private LabHost AddHost(string label, int index, string ip)
    {
        var ns = $"{Prefix}{Id}-{label}";
        var port = $"p{index}";
        AddNamespace(ns);
        Ip(ns, "link", "set", "lo", "up");
        Sh.Run("ip", ["link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", SwitchNamespace]);
        // brd +: udpcast finds its peers through the interface's broadcast address.
        Ip(ns, "addr", "add", $"{ip}/24", "brd", "+", "dev", "eth0");
        Ip(ns, "link", "set", "eth0", "up");
        Ip(ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
        Ip(SwitchNamespace, "link", "set", port, "master", "br0");
        Ip(SwitchNamespace, "link", "set", port, "up");
        Shape(ns, "eth0");
        Shape(SwitchNamespace, port);
        return new LabHost(label, ns, ip, port);
    }

    /// <summary>Token bucket at the link rate: a 64 KiB bucket (one GSO segment) and a queue of ~20 ms, like a switch port's buffer.</summary>
    private void Shape(string ns, string dev)
    {
        var rate = RateMbit.ToString("0.###", CultureInfo.InvariantCulture) + "mbit";
        Sh.Run("ip", ["netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "64kb", "latency", "20ms"]);
    }

    private void AddNamespace(string ns)
    {
        Sh.Run("ip", ["netns", "add", ns]);
        lock (_namespaces) _namespaces.Add(ns);
    }

    private static void Ip(string ns, params string[] args) => Sh.Run("ip", ["-n", ns, .. args]);

    /// <summary>Pulls or plugs a host's cable (its switch port goes down: no carrier on either end).</summary>
    public void SetLink(LabHost host, bool up)
    {
        Note($"link {host.Label} {(up ? "up" : "down")}");
        Ip(SwitchNamespace, "link", "set", host.SwitchPort, up ? "up" : "down");
    }

    /// <summary>Starts a program inside a host's namespace with its output captured.</summary>
    public LabProcess Start(LabHost host, string label, string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "netns", "exec", host.Namespace, file }.Concat(args)) psi.ArgumentList.Add(a);
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var p = new LabProcess(label, psi, Clock);
        lock (_processes) _processes.Add(p);
        return p;
    }

    /// <summary>Starts the blockswarm CLI (<see cref="Cli"/>) in a host's namespace.</summary>
    public LabProcess StartBlockSwarm(LabHost host, string label, params IEnumerable<string> args)
    {
        var (file, arguments) = CliCommand.For(Cli, args);
        return Start(host, label, file, arguments);
    }

    /// <summary>Runs a command to completion inside a host's namespace.</summary>
    public Sh.Result Run(LabHost host, string file, IEnumerable<string> args, bool check = true, TimeSpan? timeout = null) =>
        Sh.Run("ip", ["netns", "exec", host.Namespace, file, .. args], check, timeout);

    /// <summary>HTTP GET from inside a host's namespace (curl); null when it fails.</summary>
    public string? HttpGet(LabHost host, string url)
    {
        var r = Sh.Run("ip", ["netns", "exec", host.Namespace, "curl", "-sf", "--max-time", "5", url], check: false, timeout: TimeSpan.FromSeconds(10));
        return r.ExitCode == 0 ? r.StdOut : null;
    }

    /// <summary>Waits until something in the host's namespace listens on TCP <paramref name="port"/>.</summary>
    public async Task WaitListeningAsync(LabHost host, int port, LabProcess owner, TimeSpan timeout, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        var suffix = ":" + port.ToString(CultureInfo.InvariantCulture);
        while (clock.Elapsed < timeout)
        {
            var ss = Sh.Run("ip", ["netns", "exec", host.Namespace, "ss", "-Hltn"], check: false).StdOut;
            if (ss.Split('\n').Any(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 4 } f && f[3].EndsWith(suffix, StringComparison.Ordinal)))
                return;
            if (owner.HasExited) throw new InvalidOperationException($"{owner.Label} exited ({owner.ExitCode}) before listening on {port}\n{owner.Output}");
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"{owner.Label} is not listening on {port} after {timeout}\n{owner.Output}");
    }

    public void Note(string text) => _log($"[{Clock.Elapsed.TotalSeconds,7:0.00}] {text}");

    /// <summary>Processes started so far (for a failure's diagnostics).</summary>
    public IReadOnlyList<LabProcess> Processes
    {
        get { lock (_processes) return [.. _processes]; }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        LabProcess[] all;
        lock (_processes) all = [.. _processes];
        foreach (var p in all) p.Kill();
        foreach (var p in all) p.Dispose();
        string[] names;
        lock (_namespaces) names = [.. _namespaces];
        // Hosts first, then the switch; anything still running in a namespace (a grandchild) is killed too.
        foreach (var ns in names.Reverse())
        {
            KillNamespaceProcesses(ns);
            Sh.Run("ip", ["netns", "delete", ns], check: false);
        }
    }

    private static void KillNamespaceProcesses(string ns)
    {
        var pids = Sh.Run("ip", ["netns", "pids", ns], check: false).StdOut;
        foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(pid.Trim(), CultureInfo.InvariantCulture, out var id) && id != Environment.ProcessId)
                Sh.Run("kill", ["-9", id.ToString(CultureInfo.InvariantCulture)], check: false);
    }

    /// <summary>
    /// The CLI the lab runs (an executable or a blockswarm.dll): by default the NativeAOT publish in cli/ next to this
    /// assembly (build/PublishCli.targets), else blockswarm.dll next to it (the project references the CLI).
    /// </summary>
    public static string Cli { get; set; } = CliCommand.DefaultPath(AppContext.BaseDirectory);

    public static string DotnetHost => CliCommand.DotnetHost;
}
