using System.Diagnostics;

namespace BlockSwarm.Testing;

/// <summary>
/// Polls a condition until it holds or time runs out, then fails naming what was awaited: the one replacement for
/// hand-written <c>while (DateTime.UtcNow &lt; deadline) { …; await Task.Delay(…); }</c> loops. A condition may throw
/// to fail at once (a process that exited before it could ever become true).
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Polls <paramref name="condition"/> every <paramref name="poll"/> (50 ms by default) until it holds; after
    /// <paramref name="timeout"/> throws a <see cref="TimeoutException"/> naming <paramref name="whatWeWaitFor"/>, with
    /// <paramref name="details"/> (a process's last output lines, say) appended.
    /// </summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string whatWeWaitFor,
        Func<string>? details = null, TimeSpan? poll = null, CancellationToken ct = default) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, whatWeWaitFor, details, poll, ct);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string whatWeWaitFor,
        Func<string>? details = null, TimeSpan? poll = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed >= timeout) throw TimedOut(timeout, whatWeWaitFor, details);
            await Task.Delay(poll ?? DefaultPoll, ct);
        }
    }

    /// <summary>The blocking form, for single-threaded benchmark drivers.</summary>
    public static void Until(Func<bool> condition, TimeSpan timeout, string whatWeWaitFor, Func<string>? details = null, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed >= timeout) throw TimedOut(timeout, whatWeWaitFor, details);
            Thread.Sleep(poll ?? DefaultPoll);
        }
    }

    private static TimeoutException TimedOut(TimeSpan timeout, string what, Func<string>? details) =>
        new($"timed out after {timeout.TotalSeconds:0.#} s waiting for {what}" + (details is null ? "" : "\n" + details()));
}
