using BlockSwarm.Cli;

namespace BlockSwarm.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = await CliApp.RunAsync(args, new CliContext(o, e, interactive: false), TestContext.Current.CancellationToken);
        return new Result(rc, o.ToString(), e.ToString());
    }
}
