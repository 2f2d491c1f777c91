using BlockSwarm.Cli;

namespace BlockSwarm.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Task<Result> RunAsync(params string[] args) => RunWithTokenAsync(TestContext.Current.CancellationToken, args);

    public static async Task<Result> RunWithTokenAsync(CancellationToken cancellationToken, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = await CliApp.RunAsync(args, new CliContext(o, e, interactive: false), cancellationToken);
        return new Result(rc, o.ToString(), e.ToString());
    }
}
