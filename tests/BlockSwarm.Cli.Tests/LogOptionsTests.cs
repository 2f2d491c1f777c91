using System.Text.Json.Nodes;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>The global --log-level/--log-format options: on every command, lines on stderr, stdout left to results.</summary>
public sealed class LogOptionsTests
{
    [Fact]
    public async Task Json_lines_go_to_stderr_and_stdout_keeps_the_result()
    {
        using var dir = new TempDirectory("log-options");
        var img = dir.File("src.img");
        var data = new byte[1 << 20];
        new Random(3).NextBytes(data);
        await File.WriteAllBytesAsync(img, data, TestContext.Current.CancellationToken);
        var r = await CliRunner.RunAsync("create", "--source", img, "--map", "all", "-o", dir.File("t.torrent"), "--log-format", "json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.DoesNotContain("\"EventId\"", r.StdOut, StringComparison.Ordinal);
        var events = r.StdErr.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var created = Assert.Single(events, e => (string?)e["EventName"] == "Created");
        Assert.Equal(3101, (int?)created["EventId"]);
        Assert.Equal("BlockSwarm.Metainfo.TorrentCreator", (string?)created["Category"]);
        Assert.Equal(img, (string?)created["State"]!["Source"]);
        Assert.Single(events, e => (string?)e["EventName"] == "MapResolved");
        Assert.DoesNotContain(events, e => (string?)e["LogLevel"] == "Debug");

        // At warning, the same run logs nothing; option placement before the command works too.
        var quiet = await CliRunner.RunAsync("--log-level", "warning", "create", "--source", img, "--map", "all", "-o", dir.File("u.torrent"));
        Assert.True(quiet.ExitCode == 0, quiet.StdErr);
        Assert.Empty(quiet.StdErr.Trim());
        var debug = await CliRunner.RunAsync("create", "--source", img, "--map", "all", "-o", dir.File("v.torrent"), "--log-level", "debug");
        Assert.Contains("debug TorrentCreator[3100] Hashing: ", debug.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--log-level", "loud")]
    [InlineData("--log-format", "xml")]
    public async Task Unknown_levels_and_formats_are_usage_errors(string option, string value)
    {
        var r = await CliRunner.RunAsync("inspect", "x.torrent", option, value);
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
    }
}
