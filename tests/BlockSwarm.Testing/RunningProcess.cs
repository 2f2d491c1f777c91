using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace BlockSwarm.Testing;

/// <summary>
/// The one way tests, the bench and the lab run a program: output captured line by line under one lock (readers
/// never see a builder while a handler appends to it), stamped with a clock, optionally teed to a log file; the
/// whole process tree killed on timeout and on dispose; errors that name the command, its exit code and the last
/// lines it printed.
/// </summary>
public sealed class RunningProcess : IDisposable
{
    /// <summary>How long to wait for the output pipes to close once the process exited (a grandchild may hold them).</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly ProcessSpec _spec;
    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private StreamWriter? _log; // null once disposed: a late output line must not write to a closed file
    private readonly Stopwatch _clock;
    private readonly string? _usageFile;
    private readonly bool _ownsUsageFile;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams = 2;
    private TimeSpan? _exitedAt;

    private RunningProcess(ProcessSpec spec)
    {
        _spec = spec;
        _clock = spec.Clock ?? Stopwatch.StartNew();
        Label = spec.Label ?? Path.GetFileName(spec.FileName);
        var command = new List<string>();
        // The log's directory first: the usage file beside it is deleted (and later written) before the log is opened.
        if (spec.LogFile != null) Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(spec.LogFile))!);
        if (spec.Namespace != null) command.AddRange(["ip", "netns", "exec", spec.Namespace]);
        if (spec.MeasureUsage)
        {
            _ownsUsageFile = spec.LogFile == null;
            _usageFile = spec.LogFile != null ? spec.LogFile + ".usage" : Path.GetTempFileName();
            File.Delete(_usageFile);
            command.AddRange(["/usr/bin/time", "-f", "%e %U %S %M", "-o", _usageFile]);
        }
        command.Add(spec.FileName);
        command.AddRange(spec.Arguments);

        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = spec.RedirectInput,
            UseShellExecute = false,
        };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        if (spec.WorkingDirectory != null) psi.WorkingDirectory = spec.WorkingDirectory;
        if (spec.Environment != null)
            foreach (var (k, v) in spec.Environment) psi.Environment[k] = v;
        if (spec.LogFile != null) _log = new StreamWriter(spec.LogFile) { AutoFlush = true };

        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(_stdout, "out", e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(_stderr, "err", e.Data);
        _process.Exited += (_, _) => { lock (_gate) _exitedAt = _clock.Elapsed; };
        StartedAt = _clock.Elapsed;
        try
        {
            _process.Start();
        }
        catch (Win32Exception ex)
        {
            _log?.Dispose();
            _process.Dispose();
            throw new InvalidOperationException($"cannot start {CommandLine}: {ex.Message}", ex);
        }
        Pid = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static RunningProcess Start(ProcessSpec spec) => new(spec);

    public static RunningProcess Start(string file, params string[] args) => new(new ProcessSpec(file, args));

    public string Label { get; }

    public string CommandLine => _spec.CommandLine;

    public int Pid { get; }

    public TimeSpan StartedAt { get; }

    /// <summary>When the process exited, on the spec's clock (null while it runs).</summary>
    public TimeSpan? ExitedAt
    {
        get { lock (_gate) return _exitedAt; }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Called for every output line (stdout and stderr) with the clock's time, outside the capture lock.</summary>
    public event Action<string, TimeSpan>? LineReceived;

    /// <summary>stdout and stderr interleaved, each line stamped <c>[seconds out|err]</c>.</summary>
    public string Output
    {
        get { lock (_gate) return _output.ToString(); }
    }

    public string StdOut
    {
        get { lock (_gate) return _stdout.ToString(); }
    }

    public string StdErr
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Output"/>.</summary>
    public string Tail(int lines = OutputTail.DefaultLines) => OutputTail.Last(Output, lines);

    /// <summary>From start to exit (to now while it runs), on the spec's clock.</summary>
    public TimeSpan WallTime => (ExitedAt ?? _clock.Elapsed) - StartedAt;

    /// <summary>What it printed and how it ended; only after it exited.</summary>
    public ProcessResult Result => new(CommandLine, ExitCode, StdOut, StdErr) { Elapsed = WallTime };

    private void OnLine(StringBuilder stream, string tag, string? line)
    {
        if (line == null)
        {
            if (Interlocked.Decrement(ref _openStreams) == 0) _drained.TrySetResult();
            return;
        }
        var t = _clock.Elapsed;
        lock (_gate)
        {
            stream.Append(line).Append('\n');
            _output.Append(CultureInfo.InvariantCulture, $"[{t.TotalSeconds,7:0.00} {tag}] {line}\n");
            _log?.WriteLine(line);
        }
        _spec.Echo?.Invoke(line);
        LineReceived?.Invoke(line, t);
    }

    public void WriteInput(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes standard input (programs that stop at end of input stop).</summary>
    public void CloseInput()
    {
        try { _process.StandardInput.Close(); }
        catch (IOException) { }
        catch (InvalidOperationException) { }
    }

    /// <summary>Waits for the exit code; after <paramref name="timeout"/> kills the process tree and throws with the output's tail.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw TimedOut(timeout);
        StampExit();
        _drained.Task.Wait(DrainTimeout);
        return _process.ExitCode;
    }

    /// <summary>Waits for the exit code; after <paramref name="timeout"/> kills the process tree and throws with the output's tail.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw TimedOut(timeout);
        }
        StampExit();
        await Task.WhenAny(_drained.Task, Task.Delay(DrainTimeout, ct));
        return _process.ExitCode;
    }

    /// <summary>The Exited event runs on another thread and may come after a wait returned: the first to see the exit stamps it.</summary>
    private void StampExit()
    {
        lock (_gate) _exitedAt ??= _clock.Elapsed;
    }

    private TimeoutException TimedOut(TimeSpan timeout)
    {
        Kill();
        return new TimeoutException($"{Label} did not finish within {timeout.TotalSeconds:0.#} s and was killed: {CommandLine}\n{Tail()}");
    }

    /// <summary>Waits until the process printed a line containing <paramref name="text"/>; fails early if it exits first.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken ct = default) =>
        Eventually.UntilAsync(() =>
        {
            if (Output.Contains(text, StringComparison.Ordinal)) return true;
            if (HasExited && _drained.Task.IsCompleted && !Output.Contains(text, StringComparison.Ordinal))
                throw new InvalidOperationException($"{Label} exited ({ExitCode}) before printing '{text}': {CommandLine}\n{Tail()}");
            return false;
        }, timeout, $"{Label} to print '{text}'", () => Tail(), ct: ct);

    /// <summary>Waits until something accepts TCP connections on <paramref name="host"/>:<paramref name="port"/>; fails at once if this process exits.</summary>
    public Task WaitForListenerAsync(string host, int port, TimeSpan timeout, CancellationToken ct = default) =>
        Eventually.UntilAsync(() => Accepts(host, port), timeout, $"{Label} to listen on {host}:{port}", () => Tail(), ct: ct);

    /// <summary>The blocking form of <see cref="WaitForListenerAsync"/>, for single-threaded benchmark drivers.</summary>
    public void WaitForListener(string host, int port, TimeSpan timeout) =>
        Eventually.Until(() => Accepts(host, port), timeout, $"{Label} to listen on {host}:{port}", () => Tail());

    private bool Accepts(string host, int port)
    {
        if (HasExited) throw new InvalidOperationException($"{Label} exited ({ExitCode}) before listening on {host}:{port}: {CommandLine}\n{Tail()}");
        try
        {
            using var probe = new TcpClient();
            probe.Connect(host, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL to the whole tree: no chance to clean up (crash tests rely on that).</summary>
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
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
    }

    /// <summary>SIGTERM to the program (a graceful stop), then the whole tree killed if it is still there after <paramref name="grace"/>.</summary>
    public void Terminate(TimeSpan? grace = null)
    {
        if (_process.HasExited) return;
        foreach (var pid in ProgramPids()) Signals.Send(pid, Signals.SigTerm);
        if (!_process.WaitForExit(grace ?? TimeSpan.FromSeconds(10))) Kill();
        _drained.Task.Wait(DrainTimeout);
    }

    /// <summary>The measured program: under <c>time</c> it is time's child, which a signal to time would not reach.</summary>
    private IEnumerable<int> ProgramPids()
    {
        if (!_spec.MeasureUsage) return [Pid];
        var children = $"/proc/{Pid}/task/{Pid}/children";
        var text = File.Exists(children) ? File.ReadAllText(children) : "";
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
    }

    /// <summary>CPU seconds and peak RSS of the program, from its rusage (<see cref="ProcessSpec.MeasureUsage"/>).</summary>
    public ResourceUsage Usage()
    {
        if (_usageFile == null) throw new InvalidOperationException($"{Label} was not started with MeasureUsage");
        if (!HasExited) throw new InvalidOperationException($"{Label} is still running: rusage comes at exit");
        // A program killed by a signal gets a "Command terminated by signal" line first.
        var line = File.ReadAllLines(_usageFile).Last(l => l.Length > 0 && char.IsDigit(l[0]));
        var f = line.Split(' ');
        return new ResourceUsage(double.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[2], CultureInfo.InvariantCulture),
            long.Parse(f[3], CultureInfo.InvariantCulture) * 1024);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_gate)
        {
            _log?.Dispose();
            _log = null;
        }
        if (_ownsUsageFile && _usageFile != null) File.Delete(_usageFile);
    }
}
