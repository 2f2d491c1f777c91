using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BlockSwarm.Lab;

/// <summary>A process in a lab namespace; stdout and stderr kept with timestamps, each line also offered to <see cref="LineReceived"/>.</summary>
public sealed class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Stopwatch _clock;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LabProcess(string label, ProcessStartInfo psi, Stopwatch clock)
    {
        Label = label;
        _clock = clock;
        CommandLine = string.Join(' ', psi.ArgumentList.Skip(3));
        StartedAt = clock.Elapsed;
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Append("out", e.Data);
        _process.ErrorDataReceived += (_, e) => Append("err", e.Data);
        _process.Exited += (_, _) => { ExitedAt = _clock.Elapsed; };
        if (!_process.Start()) throw new InvalidOperationException($"cannot start {CommandLine}");
        Pid = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Label { get; }
    public string CommandLine { get; }
    public int Pid { get; }
    public TimeSpan StartedAt { get; }
    public TimeSpan? ExitedAt { get; private set; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Called for every output line (stdout and stderr), with the lab clock's time.</summary>
    public event Action<string, TimeSpan>? LineReceived;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string stream, string? line)
    {
        if (line == null) return;
        var t = _clock.Elapsed;
        lock (_output) _output.Append(CultureInfo.InvariantCulture, $"[{t.TotalSeconds,7:0.00} {stream}] {line}\n");
        LineReceived?.Invoke(line, t);
    }

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
            throw new TimeoutException($"{Label} did not finish within {timeout}\n{Tail(40)}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until the process printed a line containing <paramref name="text"/>; returns the lab time it did.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (HasExited)
            {
                await Task.Delay(200, ct);
                if (Output.Contains(text, StringComparison.Ordinal)) return;
                throw new InvalidOperationException($"{Label} exited ({ExitCode}) before printing '{text}'\n{Tail(40)}");
            }
            if (clock.Elapsed > timeout) throw new TimeoutException($"{Label} did not print '{text}' within {timeout}\n{Tail(40)}");
            await Task.Delay(50, ct);
        }
    }

    public string Tail(int lines)
    {
        var all = Output.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>SIGKILL (kill -9), no chance to clean up.</summary>
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
        catch (System.ComponentModel.Win32Exception) { }
    }

    /// <summary>SIGTERM: a graceful stop.</summary>
    public void Terminate()
    {
        if (!_process.HasExited) Sh.Run("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)], check: false);
    }

    public void CloseInput()
    {
        try { _process.StandardInput.Close(); } catch (IOException) { } catch (InvalidOperationException) { }
    }

    public void Dispose() => _process.Dispose();
}
