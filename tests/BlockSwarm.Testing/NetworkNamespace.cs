using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace BlockSwarm.Testing;

/// <summary>
/// A network namespace (<c>ip netns</c>) made for one test or lab run: its own loopback (all of 127.0.0.0/8 is
/// ours, fixed ports never collide), veth cables to other namespaces, addresses, tbf-shaped links; processes started
/// inside it run as <see cref="RunningProcess"/>. Dispose kills every process started here (and anything else left
/// inside) and deletes the namespace. Names are <c>PREFIX + PID-RANDOM[-ROLE]</c> (tests: <c>bs-PURPOSE-</c>, the lab:
/// <c>bslab-</c>): <see cref="CleanStale"/> removes those whose creating process is gone (killed before it could dispose).
/// </summary>
public sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly List<RunningProcess> _processes = [];
    private readonly Action<string>? _log;
    private readonly bool _dumpOutputOnDispose;
    private bool _disposed;

    private NetworkNamespace(string name, Stopwatch clock, Action<string>? log, bool dumpOutputOnDispose) =>
        (Name, Clock, _log, _dumpOutputOnDispose) = (name, clock, log, dumpOutputOnDispose);

    public string Name { get; }

    /// <summary>Stamps notes and every process's output lines.</summary>
    public Stopwatch Clock { get; }

    /// <summary>A fresh name carrying this process's id: <c>PREFIX + PID-RANDOM[-ROLE]</c>.</summary>
    public static string NewName(string prefix, string? role = null) =>
        $"{prefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3))}"
        + (role is null ? "" : "-" + role);

    /// <summary>
    /// A namespace named <c>bs-PURPOSE-PID-RANDOM</c> with loopback up, or a skip (under CI: a failure) when this
    /// machine cannot make namespaces. <paramref name="log"/> gets notes and, unless <paramref name="dumpOutputOnDispose"/>
    /// is false, each process's command, exit code and whole output at dispose (a failed test's diagnostics).
    /// </summary>
    public static NetworkNamespace Create(string purpose, Action<string>? log = null, bool dumpOutputOnDispose = true)
    {
        Requires.NetworkNamespaces();
        return CreateNamed(NewName($"bs-{purpose}-"), log, null, dumpOutputOnDispose);
    }

    /// <summary>A namespace with exactly this name (see <see cref="NewName"/>) and loopback up; the caller checked the requirement.</summary>
    public static NetworkNamespace CreateNamed(string name, Action<string>? log = null, Stopwatch? clock = null, bool dumpOutputOnDispose = true)
    {
        CleanStale(log);
        Tool.Run("ip", "netns", "add", name);
        var ns = new NetworkNamespace(name, clock ?? Stopwatch.StartNew(), log, dumpOutputOnDispose);
        try
        {
            ns.Ip("link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    /// <summary><c>ip -n NAME …</c>, checked.</summary>
    public void Ip(params string[] args) => Tool.Run("ip", ["-n", Name, .. args]);

    /// <summary>Cables two namespaces with a veth pair: <paramref name="device"/> here, <paramref name="peerDevice"/> in <paramref name="peer"/>.</summary>
    public void Cable(string device, NetworkNamespace peer, string peerDevice) =>
        Tool.Run("ip", "link", "add", device, "netns", Name, "type", "veth", "peer", "name", peerDevice, "netns", peer.Name);

    /// <summary>Adds <paramref name="cidr"/> to <paramref name="device"/> (with the broadcast address set: udpcast finds peers through it) and brings it up.</summary>
    public void AddAddress(string device, string cidr)
    {
        Ip("addr", "add", cidr, "brd", "+", "dev", device);
        SetLink(device, up: true);
    }

    public void SetLink(string device, bool up) => Ip("link", "set", device, up ? "up" : "down");

    /// <summary>
    /// Token bucket on <paramref name="device"/>'s egress: a 64 KiB bucket (one GSO segment) and ~20 ms of queue, like a
    /// switch port's buffer. Shaping a device again replaces its rate.
    /// </summary>
    public void Shape(string device, double rateMbit)
    {
        var rate = rateMbit.ToString("0.###", CultureInfo.InvariantCulture) + "mbit";
        Run("tc", ["qdisc", "replace", "dev", device, "root", "tbf", "rate", rate, "burst", "64kb", "latency", "20ms"]);
    }

    /// <summary>Starts a program inside the namespace, stamped with <see cref="Clock"/>; dispose kills it.</summary>
    public RunningProcess Start(ProcessSpec spec)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var p = RunningProcess.Start(spec with { Namespace = Name, Clock = spec.Clock ?? Clock });
        lock (_processes) _processes.Add(p);
        return p;
    }

    public RunningProcess Start(string label, string file, params IEnumerable<string> args) =>
        Start(new ProcessSpec(file, [.. args]) { Label = label });

    /// <summary>Starts the blockswarm CLI build <paramref name="cli"/> (an executable, or a .dll under the dotnet host) inside the namespace.</summary>
    public RunningProcess StartCli(string cli, string label, params IEnumerable<string> args)
    {
        var (file, arguments) = CliCommand.For(cli, args);
        return Start(label, file, arguments);
    }

    /// <summary>Starts the blockswarm CLI next to the tests (<see cref="RepoPaths.CliDll"/>) inside the namespace.</summary>
    public RunningProcess StartBlockSwarm(string label, params IEnumerable<string> args) => StartCli(RepoPaths.CliDll, label, args);

    /// <summary>Runs a command to completion inside the namespace.</summary>
    public ProcessResult Run(string file, IEnumerable<string> args, bool check = true, TimeSpan? timeout = null) =>
        Tool.Run(new ProcessSpec(file, [.. args]) { Namespace = Name }, check, timeout: timeout);

    /// <summary>HTTP GET from inside the namespace (curl); null when it fails.</summary>
    public string? HttpGet(string url)
    {
        var r = Run("curl", ["-sf", "--max-time", "5", url], check: false, timeout: TimeSpan.FromSeconds(10));
        return r.ExitCode == 0 ? r.StdOut : null;
    }

    /// <summary>
    /// Waits until something in the namespace listens on TCP <paramref name="port"/> (at <paramref name="ip"/>, or any
    /// address when null); fails at once if <paramref name="owner"/> exits first.
    /// </summary>
    public Task WaitListeningAsync(string? ip, int port, RunningProcess owner, TimeSpan timeout, CancellationToken ct = default)
    {
        var wanted = (ip ?? "") + ":" + port.ToString(CultureInfo.InvariantCulture);
        return Eventually.UntilAsync(() =>
        {
            var ss = Run("ss", ["-Hltn"], check: false).StdOut;
            // ss shows a socket bound to a device (libtorrent does that) as 127.0.0.3%lo:6882.
            if (ss.Split('\n').Any(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 4 } f
                && DeviceSuffix().Replace(f[3], ":") is var local && (ip is null ? local.EndsWith(wanted, StringComparison.Ordinal) : local == wanted)))
            {
                Note($"{owner.Label} listens on {wanted}");
                return true;
            }
            if (owner.HasExited)
                throw new InvalidOperationException($"{owner.Label} exited ({owner.ExitCode}) before listening on {wanted}: {owner.CommandLine}\n{owner.Tail()}");
            return false;
        }, timeout, $"{owner.Label} to listen on {wanted} in {Name}", () => owner.Tail(), TimeSpan.FromMilliseconds(100), ct);
    }

    [GeneratedRegex("%[^:]*:")]
    private static partial Regex DeviceSuffix();

    /// <summary>
    /// Runs <paramref name="action"/> on a thread that entered the namespace (setns(2)): a namespace is per thread on
    /// Linux, and a socket stays in the namespace it was created in whichever thread uses it later.
    /// </summary>
    public T RunOnThread<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle("/var/run/netns/" + Name);
                if (SetNs((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                result = action();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (error != null) throw new InvalidOperationException("in namespace " + Name, error);
        return result;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    public void Note(string text) => _log?.Invoke($"[{Clock.Elapsed.TotalSeconds,7:0.00}] {text}");

    /// <summary>Processes started here so far (for a failure's diagnostics).</summary>
    public IReadOnlyList<RunningProcess> Processes
    {
        get { lock (_processes) return [.. _processes]; }
    }

    /// <summary>Each process's label, command, how it ended and its whole output.</summary>
    public static string Describe(IEnumerable<RunningProcess> processes) => string.Join('\n', processes.Select(p =>
        $"---- {p.Label}: {p.CommandLine} -> {(p.HasExited ? "exit " + p.ExitCode.ToString(CultureInfo.InvariantCulture) : "running")}\n{p.Output}"));

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var all = Processes;
        foreach (var p in all) p.Kill();
        if (_dumpOutputOnDispose && all.Count > 0) _log?.Invoke(Describe(all));
        foreach (var p in all) p.Dispose();
        Delete(Name);
    }

    /// <summary>Kills anything still running in namespace <paramref name="name"/> (a grandchild that escaped its tree kill), then deletes it.</summary>
    private static void Delete(string name)
    {
        foreach (var pid in Tool.Run("ip", ["netns", "pids", name], check: false).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(pid.Trim(), CultureInfo.InvariantCulture, out var id) && id != Environment.ProcessId)
                Tool.Run("kill", ["-9", id.ToString(CultureInfo.InvariantCulture)], check: false);
        Tool.Run("ip", ["netns", "delete", name], check: false);
    }

    [GeneratedRegex(@"^(?:bs-[a-z0-9]+-|bslab-)(\d+)-")]
    private static partial Regex OwnedName();

    /// <summary>Deletes test and lab namespaces (<c>bs-PURPOSE-PID-…</c>, <c>bslab-PID-…</c>) whose creating process no longer runs.</summary>
    public static void CleanStale(Action<string>? log = null)
    {
        foreach (var line in Tool.Run("ip", ["netns", "list"], check: false).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (OwnedName().Match(name) is not { Success: true } m
                || !int.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out var pid) || Directory.Exists($"/proc/{pid}"))
                continue;
            log?.Invoke($"removing stale namespace {name} (its process {pid} is gone)");
            Delete(name);
        }
    }

    /// <summary>Why namespaces joined by veth cannot be made here (no iproute2, no kernel support in a container), or null.</summary>
    internal static string? Unavailable()
    {
        if (!Tool.Exists("ip")) return "iproute2 (ip) is not installed";
        string a = NewName("bs-probe-", "a"), b = NewName("bs-probe-", "b");
        try
        {
            Tool.Run("ip", "netns", "add", a);
            Tool.Run("ip", "netns", "add", b);
            Tool.Run("ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "eth0", "netns", b);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return "cannot make network namespaces joined by a veth pair here: " + ex.Message.ReplaceLineEndings(" ");
        }
        finally
        {
            Tool.Run("ip", ["netns", "delete", b], check: false);
            Tool.Run("ip", ["netns", "delete", a], check: false);
        }
    }
}
