using System.Diagnostics;
using System.Globalization;
using System.Text;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// A private network namespace (<c>ip netns</c>) for one interop test: its own loopback, where all of
/// 127.0.0.0/8 is ours, so fixed ports never collide with other tests or other listeners on the box.
/// Every process started here runs inside it; disposing kills every process tree, deletes the
/// namespace, and writes each process's output to the test log (the diagnostics of a failure).
/// Names are <c>bs-interop-PID-RANDOM[-ROLE]</c>: <see cref="CleanStale"/> removes those whose test
/// process is gone (killed before it could dispose them).
/// </summary>
internal sealed class InteropNetwork : IDisposable
{
    private const string Prefix = "bs-interop-";
    private readonly ITestOutputHelper _log;
    private readonly List<PeerProcess> _processes = [];
    private readonly Stopwatch _clock;

    private InteropNetwork(string name, ITestOutputHelper log, Stopwatch clock)
    {
        Name = name;
        _log = log;
        _clock = clock;
    }

    public string Name { get; }

    /// <summary>The reason interop tests cannot run here (not root, a tool missing), or null.</summary>
    public static string? Unavailable(params string[] tools)
    {
        if (!Tool.IsRoot) return "interop tests need root (ip netns)";
        foreach (var t in tools.Append("ip"))
            if (!Tool.Exists(t)) return $"{t} is not installed";
        return null;
    }

    public static InteropNetwork Create(ITestOutputHelper log) => Create(log, NewName(), Stopwatch.StartNew());

    /// <summary>A fresh namespace name carrying this process's id (see <see cref="CleanStale"/>).</summary>
    public static string NewName(string? role = null) =>
        $"{Prefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 4))}"
        + (role is null ? "" : "-" + role);

    /// <summary>Creates namespace <paramref name="name"/> with its loopback up; <paramref name="clock"/> stamps its log lines.</summary>
    public static InteropNetwork Create(ITestOutputHelper log, string name, Stopwatch clock)
    {
        CleanStale();
        Tool.Run("ip", "netns", "add", name);
        var net = new InteropNetwork(name, log, clock);
        try
        {
            Tool.Run("ip", "-n", name, "link", "set", "lo", "up");
        }
        catch
        {
            net.Dispose();
            throw;
        }
        return net;
    }

    /// <summary>Starts <paramref name="file"/> inside the namespace with its output captured.</summary>
    public PeerProcess Start(string label, string file, params IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "netns", "exec", Name, file }.Concat(args)) psi.ArgumentList.Add(a);
        var p = new PeerProcess(label, psi, _clock);
        lock (_processes) _processes.Add(p);
        return p;
    }

    /// <summary>Starts the blockswarm CLI (the dll next to the tests) inside the namespace.</summary>
    public PeerProcess StartBlockSwarm(string label, params IEnumerable<string> args) =>
        Start(label, DotnetHost, new[] { RepoPaths.CliDll }.Concat(args));

    /// <summary>Waits until something in the namespace listens on <paramref name="ip"/>:<paramref name="port"/>.</summary>
    public async Task WaitListeningAsync(string ip, int port, PeerProcess owner, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var wanted = $"{ip}:{port.ToString(CultureInfo.InvariantCulture)}";
        while (deadline.Elapsed < timeout)
        {
            var ss = Tool.Run("ip", ["netns", "exec", Name, "ss", "-Hltn"], check: false);
            // ss shows a socket bound to a device (libtorrent does that) as 127.0.0.3%lo:6882.
            if (ss.StdOut.Split('\n').Any(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 4 } f
                && System.Text.RegularExpressions.Regex.Replace(f[3], "%[^:]*:", ":") == wanted))
            {
                Note($"{owner.Label} listens on {wanted}");
                return;
            }
            if (owner.HasExited) throw new InvalidOperationException($"{owner.Label} exited ({owner.ExitCode}) before listening on {wanted}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"{owner.Label} is not listening on {wanted} after {timeout}");
    }

    public void Note(string text) => _log.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:0.00}] {text}");

    public void Dispose()
    {
        PeerProcess[] all;
        lock (_processes) all = [.. _processes];
        foreach (var p in all) p.Kill();
        foreach (var p in all)
        {
            _log.WriteLine($"---- {p.Label}: {p.CommandLine} -> {(p.HasExited ? "exit " + p.ExitCode.ToString(CultureInfo.InvariantCulture) : "killed")}");
            _log.WriteLine(p.Output);
            p.Dispose();
        }
        KillProcessesIn(Name);
        Tool.Run("ip", ["netns", "delete", Name], check: false);
    }

    /// <summary>Deletes interop namespaces (and kills what runs in them) whose creating process no longer exists.</summary>
    public static void CleanStale()
    {
        foreach (var line in Tool.Run("ip", ["netns", "list"], check: false).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            if (!int.TryParse(name[Prefix.Length..].Split('-')[0], CultureInfo.InvariantCulture, out var pid) || Directory.Exists($"/proc/{pid}"))
                continue;
            KillProcessesIn(name);
            Tool.Run("ip", ["netns", "delete", name], check: false);
        }
    }

    /// <summary>Kills anything still running in namespace <paramref name="name"/> (a grandchild that escaped its tree kill).</summary>
    private static void KillProcessesIn(string name)
    {
        foreach (var pid in Tool.Run("ip", ["netns", "pids", name], check: false).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(pid.Trim(), CultureInfo.InvariantCulture, out var id) && id != Environment.ProcessId)
                Tool.Run("kill", ["-9", id.ToString(CultureInfo.InvariantCulture)], check: false);
    }

    /// <summary>The dotnet host that runs framework-dependent dlls (the test runner itself is an apphost).</summary>
    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Tool.Exists("dotnet") ? "dotnet"
        : throw new InvalidOperationException("dotnet host not found (DOTNET_HOST_PATH, PATH)");
}

/// <summary>One process started in an <see cref="InteropNetwork"/>; stdout and stderr interleaved with timestamps.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Stopwatch _clock;

    public PeerProcess(string label, ProcessStartInfo psi, Stopwatch clock)
    {
        Label = label;
        _clock = clock;
        CommandLine = string.Join(' ', psi.ArgumentList.Skip(3));
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {CommandLine}");
        _process.OutputDataReceived += (_, e) => Append("out", e.Data);
        _process.ErrorDataReceived += (_, e) => Append("err", e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Label { get; }
    public string CommandLine { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string stream, string? line)
    {
        if (line == null) return;
        lock (_output) _output.Append(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,6:0.00} {stream}] {line}\n");
    }

    /// <summary>Waits for the exit code; throws <see cref="TimeoutException"/> (with the output so far) after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Label} did not finish within {timeout}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>Waits until the process has printed a line containing <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (HasExited) throw new InvalidOperationException($"{Label} exited ({ExitCode}) before printing '{text}'");
            if (clock.Elapsed > timeout) throw new TimeoutException($"{Label} did not print '{text}' within {timeout}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    public void Dispose() => _process.Dispose();
}
