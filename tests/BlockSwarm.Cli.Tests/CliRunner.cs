using BlockSwarm.Cli;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// Runs the CLI in-process (no process to start: the fast path for argument parsing and command tests), answering
/// with the shared <see cref="ProcessResult"/> so a failure reads like one from <see cref="Tool"/>.
/// </summary>
internal static class CliRunner
{
    public static Task<ProcessResult> RunAsync(params string[] args) => RunWithTokenAsync(TestContext.Current.CancellationToken, args);

    public static async Task<ProcessResult> RunWithTokenAsync(CancellationToken cancellationToken, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int rc = await CliApp.RunAsync(args, new CliContext(o, e, interactive: false), cancellationToken);
        return new ProcessResult("blockswarm (in-process) " + string.Join(' ', args), rc, o.ToString(), e.ToString()) { Elapsed = clock.Elapsed };
    }
}
