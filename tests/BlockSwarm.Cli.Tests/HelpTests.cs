namespace BlockSwarm.Cli.Tests;

public sealed class HelpTests
{
    [Theory]
    [InlineData("create", "--map")]
    [InlineData("inspect", "--json")]
    [InlineData("verify", "--target")]
    [InlineData("seed", "--max-peers")]
    [InlineData("fetch", "--no-pex")]
    [InlineData("fetch", "--write-mode")]
    [InlineData("deploy", "--write-mode")]
    [InlineData("ezio", "--write-mode")]
    [InlineData("serve", "--stop-when-done")]
    [InlineData("deploy", "--allow-file")]
    [InlineData("tracker", "--allow")]
    [InlineData("tracker", "--secret-file")]
    [InlineData("demo", "--clients")]
    [InlineData("ezio", "--cache-size")]
    [InlineData("ezio", "--slow-start-period")]
    [InlineData("deploy", "--log-level")]
    [InlineData("serve", "--log-format")]
    [InlineData("inspect", "--log-level")]
    [InlineData("serve", "--signing-key")]
    [InlineData("serve", "--operator-token-file")]
    [InlineData("serve", "--dashboard")]
    [InlineData("serve", "--tls-cert")]
    [InlineData("serve", "--netboot-port")]
    [InlineData("deploy", "--server-key")]
    public async Task Every_command_has_help_naming_its_options(string command, string option)
    {
        var r = await CliRunner.RunAsync(command, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(option, r.StdOut);
    }

    [Fact]
    public async Task Unknown_commands_are_usage_errors()
    {
        var r = await CliRunner.RunAsync("frobnicate");
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
    }
}
