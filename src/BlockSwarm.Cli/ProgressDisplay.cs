using System.Diagnostics;
using BlockSwarm.Imaging;
using Spectre.Console;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli;

/// <summary>
/// Runs work that reports bytes done: a Spectre.Console progress bar on a terminal, a plain
/// line every few seconds otherwise (logs and CI stay readable).
/// </summary>
public static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(CliContext ctx, string label, long total, Func<Action<long>, T> work)
    {
        long done = 0;
        void Report(long n) => Interlocked.Add(ref done, n);
        var sw = Stopwatch.StartNew();
        var task = Task.Run(() => work(Report));
        if (ctx.Interactive)
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async p =>
                {
                    var t = p.AddTask(label, maxValue: Math.Max(1, total));
                    while (!task.IsCompleted)
                    {
                        t.Value = Interlocked.Read(ref done);
                        await Task.WhenAny(task, Task.Delay(100)).ConfigureAwait(false);
                    }
                    t.Value = Interlocked.Read(ref done);
                }).ConfigureAwait(false);
        }
        else
        {
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
                if (!task.IsCompleted)
                {
                    long d = Interlocked.Read(ref done);
                    ctx.Err.WriteLine($"{label}: {SizeParser.Format(d)} of {SizeParser.Format(total)} ({(total > 0 ? 100.0 * d / total : 100):0.0}%), {Rate(d, sw.Elapsed)}");
                }
            }
        }
        return await task.ConfigureAwait(false);
    }

    public static string Rate(long bytes, TimeSpan elapsed) =>
        elapsed.TotalSeconds <= 0 ? "-" : $"{SizeParser.Format((long)(bytes / elapsed.TotalSeconds))}/s";
}
