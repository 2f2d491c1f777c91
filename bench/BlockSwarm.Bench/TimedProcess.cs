using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace BlockSwarm.Bench;

/// <summary>
/// A child process run under GNU <c>/usr/bin/time</c>, so its user and system CPU seconds and its
/// peak RSS come from the kernel's rusage when it is reaped (nothing sampled, nothing missed at exit).
/// Output goes to a log file beside the run.
/// </summary>
public sealed class TimedProcess : IDisposable
{
    private readonly Process _time;
    private readonly string _usageFile;
    private readonly Stopwatch _wall;
    private readonly Task _drainOut;
    private readonly Task _drainErr;
    private readonly StreamWriter _log;

    private TimedProcess(Process time, string usageFile, StreamWriter log)
    {
        _time = time;
        _usageFile = usageFile;
        _log = log;
        _wall = Stopwatch.StartNew();
        _drainOut = Drain(time.StandardOutput);
        _drainErr = Drain(time.StandardError);
    }

    public string Name { get; private init; } = "";
    public string LogPath { get; private init; } = "";

    public static TimedProcess Start(string name, string logDir, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(logDir);
        var usage = Path.Combine(logDir, name + ".usage");
        var logPath = Path.Combine(logDir, name + ".log");
        File.Delete(usage);
        var psi = new ProcessStartInfo("/usr/bin/time")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["-f", "%e %U %S %M", "-o", usage, file, .. args]) psi.ArgumentList.Add(a);
        if (environment != null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        return new TimedProcess(p, usage, log) { Name = name, LogPath = logPath };
    }

    private async Task Drain(StreamReader reader)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            lock (_log) _log.WriteLine(line);
    }

    public bool HasExited => _time.HasExited;

    /// <summary>Waits for exit; returns the wall time since start and the exit code of the measured program.</summary>
    public (TimeSpan Wall, int ExitCode) WaitForExit(TimeSpan timeout)
    {
        if (!_time.WaitForExit(timeout))
        {
            Terminate();
            _time.WaitForExit();
            throw new TimeoutException($"{Name} did not finish within {timeout}; see {LogPath}");
        }
        var wall = _wall.Elapsed;
        Task.WaitAll(_drainOut, _drainErr);
        return (wall, _time.ExitCode);
    }

    /// <summary>SIGTERM to the measured program (the child of <c>time</c>), then waits for it.</summary>
    public void Terminate()
    {
        if (_time.HasExited) return;
        var children = $"/proc/{_time.Id}/task/{_time.Id}/children";
        string text = File.Exists(children) ? File.ReadAllText(children).Trim() : "";
        foreach (var pid in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            Exec.Run("kill", "-TERM", pid);
        if (!_time.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            foreach (var pid in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                Exec.Run("kill", "-KILL", pid);
            _time.WaitForExit();
        }
        Task.WaitAll(_drainOut, _drainErr);
    }

    /// <summary>CPU seconds (user + system) and peak RSS in bytes, as GNU time reported them after exit.</summary>
    public (double CpuSeconds, long PeakRssBytes) Usage()
    {
        // When the program was killed by a signal, time prefixes a "Command terminated by signal" line.
        var line = File.ReadAllLines(_usageFile).Last(l => l.Length > 0 && char.IsDigit(l[0]));
        var f = line.Split(' ');
        double user = double.Parse(f[1], CultureInfo.InvariantCulture), sys = double.Parse(f[2], CultureInfo.InvariantCulture);
        return (user + sys, long.Parse(f[3], CultureInfo.InvariantCulture) * 1024);
    }

    /// <summary>Polls until something accepts TCP connections on <paramref name="host"/>:<paramref name="port"/>.</summary>
    public void WaitForListener(string host, int port, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_time.HasExited) throw new InvalidOperationException($"{Name} exited early; see {LogPath}");
            try
            {
                using var probe = new TcpClient();
                probe.Connect(host, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"{Name} is not listening on {host}:{port} after {timeout}");
    }

    public void Dispose()
    {
        if (!_time.HasExited) Terminate();
        _time.Dispose();
        _log.Dispose();
    }
}
