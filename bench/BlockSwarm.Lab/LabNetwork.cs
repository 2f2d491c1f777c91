using System.Diagnostics;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>
/// The lab's LAN on the shared namespace rig (<see cref="SwitchedLan"/>): a bridge, one server (10.77.0.1), N
/// clients (10.77.0.11, …, up to 200 of them) and, when a scenario asks with <see cref="AddHost"/>, up to 9 other
/// hosts (10.77.0.2 …: an outsider, a second server), every cable tbf-shaped both ways at the same rate unless
/// <see cref="SetRate"/> gives a host another. Namespaces are named
/// <c>bslab-PID-RANDOM-…</c>, which <c>blockswarm-lab clean</c> (<see cref="CleanStale"/>) removes once their process is
/// gone. Dispose kills every process started here and deletes everything, whatever happened before.
/// </summary>
public sealed class LabNetwork : IDisposable
{
    public const string Prefix = "bslab-";
    public const string Subnet = "10.77.0";

    /// <summary>The octets of <see cref="AddHost"/>'s hosts: between the server's (1) and the first client's (11).</summary>
    private const int FirstOtherOctet = 2, LastOtherOctet = 10;

    private readonly SwitchedLan _lan;

    private LabNetwork(SwitchedLan lan, double rateMbit)
    {
        _lan = lan;
        RateMbit = rateMbit;
    }

    public string Id => _lan.Id;
    public double RateMbit { get; }
    public LanHost Server { get; private set; } = null!;
    public IReadOnlyList<LanHost> Clients { get; private set; } = [];

    /// <summary>The hosts added with <see cref="AddHost"/>, in order: on the switch, neither the server nor a client.</summary>
    public IReadOnlyList<LanHost> Others { get; private set; } = [];
    public Stopwatch Clock => _lan.Clock;

    /// <summary>Why the lab cannot run here (not root, no namespaces, no tc), or null.</summary>
    public static string? Unavailable() =>
        Requires.Why(Need.Root) is { } root ? "the swarm lab needs root (ip netns, tc): " + root
        : Requires.Why(Need.NetworkNamespaces) ?? Requires.Why("tc");

    /// <summary>Deletes lab (and test) namespaces left behind by processes that no longer run (a crashed or killed lab).</summary>
    public static void CleanStale(Action<string>? log = null) => NetworkNamespace.CleanStale(log);

    /// <summary>
    /// Builds the switch, the server and <paramref name="clients"/> clients. With <paramref name="dumpOutputOnDispose"/>,
    /// dispose writes every process's output to <paramref name="log"/> (the fault tests' diagnostics).
    /// </summary>
    public static LabNetwork Create(int clients, double rateMbit, Action<string>? log = null, bool dumpOutputOnDispose = false)
    {
        if (clients is < 0 or > 200) throw new ArgumentOutOfRangeException(nameof(clients));
        var lan = SwitchedLan.Create(Prefix, Subnet, rateMbit, log, dumpOutputOnDispose);
        var net = new LabNetwork(lan, rateMbit);
        try
        {
            net.Server = lan.AddHost("server", 1);
            net.Clients = [.. Enumerable.Range(0, clients).Select(i => lan.AddHost($"c{i + 1}", 11 + i))];
        }
        catch
        {
            net.Dispose();
            throw;
        }
        return net;
    }

    /// <summary>
    /// Adds a host that is neither the server nor a client (the runners never start anything on it): an outsider on the
    /// same LAN, a second server. It gets the next address of 10.77.0.2 … 10.77.0.10 and a cable at the lab's rate.
    /// </summary>
    public LanHost AddHost(string label)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(label);
        if (label == Server.Label || Clients.Concat(Others).Any(h => h.Label == label))
            throw new ArgumentException($"the lab already has a host named {label}", nameof(label));
        int octet = FirstOtherOctet + Others.Count;
        if (octet > LastOtherOctet) throw new InvalidOperationException($"the lab holds at most {LastOtherOctet - FirstOtherOctet + 1} other hosts");
        var host = _lan.AddHost(label, octet);
        Others = [.. Others, host];
        return host;
    }

    /// <summary>The rate <paramref name="host"/>'s cable is shaped to, both ways (<see cref="RateMbit"/> unless <see cref="SetRate"/> changed it).</summary>
    public double RateOf(LanHost host) => _lan.RateOf(host) ?? RateMbit;

    /// <summary>Reshapes a host's cable, both ways: a machine on a slower link in the same room.</summary>
    public void SetRate(LanHost host, double rateMbit) => _lan.SetRate(host, rateMbit);

    /// <summary>The slowest client's link: the pace of anything that must reach every client at once (multicast).</summary>
    public double SlowestClientRateMbit => Clients.Count == 0 ? RateMbit : Clients.Min(RateOf);

    /// <summary>Pulls or plugs a host's cable (its switch port goes down: no carrier on either end).</summary>
    public void SetLink(LanHost host, bool up) => _lan.SetLink(host, up);

    /// <summary>Starts a program inside a host's namespace with its output captured (stdin a pipe the caller may close).</summary>
    public RunningProcess Start(LanHost host, string label, string file, IEnumerable<string> args, IDictionary<string, string>? env = null) =>
        host.Namespace.Start(new ProcessSpec(file, [.. args])
        {
            Label = label,
            Environment = env is null ? null : new Dictionary<string, string>(env),
            RedirectInput = true,
        });

    /// <summary>Starts the blockswarm CLI (<see cref="Cli"/>) in a host's namespace.</summary>
    public RunningProcess StartBlockSwarm(LanHost host, string label, params IEnumerable<string> args) => host.Namespace.StartCli(Cli, label, args);

    /// <summary>Runs a command to completion inside a host's namespace.</summary>
    public ProcessResult Run(LanHost host, string file, IEnumerable<string> args, bool check = true, TimeSpan? timeout = null) =>
        host.Namespace.Run(file, args, check, timeout);

    /// <summary>HTTP GET from inside a host's namespace (curl); null when it fails.</summary>
    public string? HttpGet(LanHost host, string url) => host.Namespace.HttpGet(url);

    /// <summary>Waits until something in the host's namespace listens on TCP <paramref name="port"/>.</summary>
    public Task WaitListeningAsync(LanHost host, int port, RunningProcess owner, TimeSpan timeout, CancellationToken ct = default) =>
        host.Namespace.WaitListeningAsync(null, port, owner, timeout, ct);

    public void Note(string text) => _lan.Switch.Note(text);

    /// <summary>Processes started so far (for a failure's diagnostics).</summary>
    public IReadOnlyList<RunningProcess> Processes => _lan.Processes;

    public void Dispose() => _lan.Dispose();

    /// <summary>
    /// The CLI the lab runs (an executable or a blockswarm.dll): by default the NativeAOT publish in cli/ next to this
    /// assembly (build/PublishCli.targets), else blockswarm.dll next to it (the project references the CLI).
    /// </summary>
    public static string Cli { get; set; } = CliCommand.DefaultPath(AppContext.BaseDirectory);

    public static string DotnetHost => CliCommand.DotnetHost;
}
