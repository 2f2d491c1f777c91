using System.Text.Json;
using BlockSwarm.Observability.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Observability.Tests;

public sealed partial class LoggingSetupTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 3, 10, 15, 30, 123, TimeSpan.FromHours(2));

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "target {Target} refused: {Reason}")]
    private static partial void TargetRefused(ILogger logger, string target, string reason, Exception? exception = null);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "peer {Peer} sent {Bytes} bytes in {Seconds} s")]
    private static partial void PeerSent(ILogger logger, string peer, long bytes, double seconds);

    private static (string Output, int Lines) Run(LogSettings settings, Action<ILoggerFactory> log)
    {
        var output = new StringWriter();
        using (var factory = LoggingSetup.CreateLoggerFactory(settings, output, new FakeTimeProvider(Noon)))
            log(factory);
        var text = output.ToString();
        return (text, text.Count(c => c == '\n'));
    }

    [Fact]
    public void Text_lines_hold_time_level_category_event_message_and_exception_on_one_line()
    {
        var (text, lines) = Run(new LogSettings(), f =>
        {
            var log = f.CreateLogger("BlockSwarm.Deploy.Client.DeployClient");
            TargetRefused(log, "/dev/sda", "mounted at /", new IOException("device busy", new InvalidOperationException("held by md0")));
            using (log.BeginScope("RequestId:{RequestId}", "0HN1")) // scopes stay out of text lines (JSON has them)
                TargetRefused(log, "/dev/sdb", "two\nlines");
        });
        Assert.Equal(2, lines);
        Assert.Equal(
            "2026-12-03T08:15:30.123Z error DeployClient[1105] TargetRefused: target /dev/sda refused: mounted at / — IOException: device busy → InvalidOperationException: held by md0\n" +
            "2026-12-03T08:15:30.123Z error DeployClient[1105] TargetRefused: target /dev/sdb refused: two\\nlines\n",
            text);
    }

    [Fact]
    public void Json_lines_are_one_object_each_with_utc_time_and_typed_state()
    {
        var (text, lines) = Run(new LogSettings { Format = LogFormat.Json, Level = LogLevel.Debug }, f =>
        {
            var log = f.CreateLogger("BlockSwarm.Engine.Session.PeerSession");
            using (log.BeginScope("torrent {InfoHash}", "abcd"))
                PeerSent(log, "10.0.0.5:6881", 16384, 0.25);
            TargetRefused(log, "/dev/sda", "too \"small\"\n", new IOException("boom"));
        });
        Assert.Equal(2, lines);
        var events = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var sent = events[0];
        Assert.Equal("2026-12-03T08:15:30.123000Z", sent.GetProperty("Timestamp").GetString());
        Assert.Equal(1102, sent.GetProperty("EventId").GetInt32());
        Assert.Equal("PeerSent", sent.GetProperty("EventName").GetString());
        Assert.Equal("Debug", sent.GetProperty("LogLevel").GetString());
        Assert.Equal("BlockSwarm.Engine.Session.PeerSession", sent.GetProperty("Category").GetString());
        Assert.Equal("peer 10.0.0.5:6881 sent 16384 bytes in 0.25 s", sent.GetProperty("Message").GetString());
        Assert.Equal(16384, sent.GetProperty("State").GetProperty("Bytes").GetInt64());
        Assert.Equal(0.25, sent.GetProperty("State").GetProperty("Seconds").GetDouble());
        Assert.Equal("peer {Peer} sent {Bytes} bytes in {Seconds} s", sent.GetProperty("State").GetProperty("{OriginalFormat}").GetString());
        Assert.Equal("abcd", sent.GetProperty("Scopes")[0].GetProperty("InfoHash").GetString());
        var refused = events[1];
        Assert.Equal("Error", refused.GetProperty("LogLevel").GetString());
        Assert.Equal("target /dev/sda refused: too \"small\"\n", refused.GetProperty("Message").GetString());
        Assert.StartsWith("System.IO.IOException: boom", refused.GetProperty("Exception").GetString(), StringComparison.Ordinal);
        Assert.False(refused.TryGetProperty("Scopes", out _));
    }

    [Fact]
    public void Levels_filter_and_framework_categories_stay_at_warning()
    {
        var (text, _) = Run(new LogSettings { Level = LogLevel.Information }, f =>
        {
            var ours = f.CreateLogger("BlockSwarm.Tracker.Tracker");
            var kestrel = f.CreateLogger("Microsoft.AspNetCore.Server.Kestrel");
            PeerSent(ours, "a", 1, 1); // debug: below the level
            ours.LogInformation("tracker up");
            kestrel.LogInformation("request finished");
            kestrel.LogWarning("connection reset");
        });
        Assert.DoesNotContain("peer a", text);
        Assert.Contains("info  Tracker: tracker up", text);
        Assert.DoesNotContain("request finished", text);
        Assert.Contains("warn  Kestrel: connection reset", text);

        Assert.Equal(0, Run(new LogSettings { Level = LogLevel.None }, f => TargetRefused(f.CreateLogger("x"), "t", "r")).Lines);
        Assert.Contains("trace", Run(new LogSettings { Level = LogLevel.Trace }, f => f.CreateLogger("x").LogTrace("fine")).Output);
    }

    [Fact]
    public void Settings_parse_names_and_come_from_the_environment()
    {
        Assert.Equal(LogLevel.Warning, LogSettings.ParseLevel("Warning"));
        Assert.Equal(LogLevel.None, LogSettings.ParseLevel("none"));
        Assert.Equal(LogFormat.Json, LogSettings.ParseFormat("JSON"));
        Assert.Throws<FormatException>(() => LogSettings.ParseLevel("loud"));
        Assert.Equal("information", LogSettings.LevelName(LogLevel.Information));

        var env = new Dictionary<string, string> { [LogSettings.LevelVariable] = "debug", [LogSettings.FormatVariable] = "json" };
        Assert.Equal(new LogSettings { Level = LogLevel.Debug, Format = LogFormat.Json }, LogSettings.FromEnvironment(v => env.GetValueOrDefault(v)));
        Assert.Equal(new LogSettings(), LogSettings.FromEnvironment(_ => null));
        env[LogSettings.LevelVariable] = "verbose";
        var ex = Assert.Throws<FormatException>(() => LogSettings.FromEnvironment(v => env.GetValueOrDefault(v)));
        Assert.StartsWith(LogSettings.LevelVariable, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lines_from_many_threads_are_whole_and_all_written_by_dispose()
    {
        var (text, lines) = Run(new LogSettings { Level = LogLevel.Debug }, f =>
        {
            var log = f.CreateLogger("BlockSwarm.Test");
            Task.WaitAll([.. Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                var peer = $"t{t}";
                for (int i = 0; i < 5000; i++) PeerSent(log, peer, i, 0);
            }))], TestContext.Current.CancellationToken);
        });
        Assert.Equal(20_000, lines);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Matches(@"^\S+Z debug Test\[1102\] PeerSent: peer t\d sent \d+ bytes in 0 s$", l));
    }
}
