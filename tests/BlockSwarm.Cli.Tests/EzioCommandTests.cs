using BlockSwarm.Cli.Commands;
using BlockSwarm.Ezio;

namespace BlockSwarm.Cli.Tests;

/// <summary>EZIO's command line, as <c>blockswarm ezio</c> and as the program started through a link named <c>ezio</c>.</summary>
public sealed class EzioCommandTests
{
    private static async Task<(int Code, string Out, string Err)> AsEzioAsync(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = await CliApp.RunAsEzioAsync(args, new CliContext(o, e, interactive: false), TestContext.Current.CancellationToken);
        return (rc, o.ToString(), e.ToString());
    }

    [Theory]
    [InlineData("/usr/sbin/ezio", true)]
    [InlineData("ezio", true)]
    [InlineData("/usr/bin/blockswarm", false)]
    [InlineData("/opt/ezio/blockswarm", false)]
    public void A_link_named_ezio_makes_the_program_the_daemon(string argv0, bool asEzio) =>
        Assert.Equal(asEzio, EzioCommand.IsInvokedAsEzio(argv0));

    [Fact]
    public async Task Version_and_help_answer_as_ezio_does_under_both_names()
    {
        foreach (var flag in new[] { "-v", "--version" })
        {
            var r = await AsEzioAsync(flag);
            Assert.Equal((0, $"ezio {EzioVersion.Text}"), (r.Code, r.Out.Trim()));
        }
        var sub = await CliRunner.RunAsync("ezio", "-v");
        Assert.Equal((0, $"ezio {EzioVersion.Text}"), (sub.ExitCode, sub.StdOut.Trim()));
        var help = await AsEzioAsync("-h");
        Assert.Equal(0, help.Code);
        foreach (var option in new[] { "-F, --file", "-l, --listen", "--cache-size", "--aio-threads", "--slow-start", "--slow-start-period", "-p, --port", "--bind-ip", "-v, --version" })
            Assert.Contains(option, help.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--bind-ip", "not-an-ip")]
    [InlineData("--cache-size", "0")]
    [InlineData("-p", "70000")]
    [InlineData("-l", "nowhere")]
    [InlineData("--write-mode", "sideways")]
    [InlineData("-F", "--write-mode", "direct")]
    public async Task Bad_arguments_are_usage_errors(params string[] args)
    {
        var r = await AsEzioAsync(args);
        Assert.True(r.Code == ExitCodes.Usage, r.Out + r.Err);
    }
}
