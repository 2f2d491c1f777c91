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
    [InlineData("fetch", "--switch-prefix")]
    [InlineData("seed", "--switch-prefix")]
    [InlineData("serve", "--switch-prefix")]
    [InlineData("deploy", "--switch-prefix")]
    public async Task Every_command_has_help_naming_its_options(string command, string option)
    {
        var r = await CliRunner.RunAsync(command, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(option, r.StdOut);
    }

    [Theory]
    [InlineData(null, false, null)]
    [InlineData("auto", true, null)]
    [InlineData("off", true, 0)]
    [InlineData("0", true, 0)]
    [InlineData("24", true, 24)]
    [InlineData("/22", true, 22)]
    [InlineData("64", true, 64)]
    public void Switch_prefix_values(string? value, bool given, int? prefix) =>
        Assert.Equal((given, prefix), Commands.EngineCommands.ParseSwitchPrefix(value));

    [Fact]
    public async Task A_bad_switch_prefix_is_a_usage_error_naming_it()
    {
        Assert.Throws<UsageException>(() => Commands.EngineCommands.ParseSwitchPrefix("129"));
        var r = await CliRunner.RunAsync("fetch", "--torrent", "nonexistent.torrent", "--target", "x.img", "--switch-prefix", "/abc");
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
        Assert.Contains("--switch-prefix '/abc'", r.StdErr);
    }

    [Fact]
    public async Task Unknown_commands_are_usage_errors()
    {
        var r = await CliRunner.RunAsync("frobnicate");
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
    }
}
