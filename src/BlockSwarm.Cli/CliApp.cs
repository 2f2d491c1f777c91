using System.CommandLine;
using System.CommandLine.Parsing;
using BlockSwarm.Cli.Commands;
using BlockSwarm.Observability.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Cli;

/// <summary>Builds the command tree; each command parses, calls a service and maps the result to an exit code.</summary>
public static class CliApp
{
    private const string LogLevelName = "--log-level";
    private const string LogFormatName = "--log-format";

    public static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand("BlockSwarm: deploy one disk image to many machines at once over BitTorrent, writing only used blocks straight to each block device.")
        {
            CreateCommand.Build(ctx),
            InspectCommand.Build(ctx),
            VerifyCommand.Build(ctx),
            EngineCommands.BuildSeed(ctx),
            EngineCommands.BuildFetch(ctx),
            ServeCommand.Build(ctx),
            DeployCommand.Build(ctx),
            TrackerCommand.Build(ctx),
            SecretCommand.Build(ctx),
            EzioCommand.Build(ctx),
            DemoCommand.Build(ctx),
        };
        AddLogOptions(root);
        return root;
    }

    /// <summary>The program started as <c>ezio</c>: the EZIO daemon's command line at the top level, with the log options.</summary>
    public static RootCommand BuildEzioRoot(CliContext ctx)
    {
        var root = EzioCommand.BuildRoot(ctx);
        AddLogOptions(root);
        return root;
    }

    private static void AddLogOptions(RootCommand root)
    {
        // Global (recursive) options: accepted before or after the command name, shown in every command's help.
        var level = new Option<string>(LogLevelName)
        {
            Description = $"Least severe log events written to stderr: {string.Join(", ", LogSettings.LevelNames)}; ${LogSettings.LevelVariable} sets the default",
            HelpName = "LEVEL",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(LogSettings.LevelVariable) is { Length: > 0 } v ? v : "information",
        };
        level.AcceptOnlyFromAmong([.. LogSettings.LevelNames]);
        var format = new Option<string>(LogFormatName)
        {
            Description = $"Log lines on stderr: text (readable) or json (one object per line, for journald and log shippers); ${LogSettings.FormatVariable} sets the default",
            HelpName = "text|json",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(LogSettings.FormatVariable) is { Length: > 0 } v ? v : "text",
        };
        format.AcceptOnlyFromAmong([.. LogSettings.FormatNames]);
        root.Options.Add(level);
        root.Options.Add(format);
    }

    /// <summary>Runs the program: as <c>ezio</c> when started through a link of that name (Clonezilla runs <c>ezio …</c>).</summary>
    public static Task<int> RunAsync(string[] args)
    {
        var ctx = CliContext.FromConsole();
        return EzioCommand.IsInvokedAsEzio() ? RunAsEzioAsync(args, ctx) : RunAsync(args, ctx);
    }

    public static Task<int> RunAsync(string[] args, CliContext ctx, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return RunAsync(BuildRoot(ctx), args, ctx, cancellationToken);
    }

    /// <summary>Runs <paramref name="args"/> as the <c>ezio</c> program's command line (what a link named <c>ezio</c> does).</summary>
    public static Task<int> RunAsEzioAsync(string[] args, CliContext ctx, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return RunAsync(BuildEzioRoot(ctx), args, ctx, cancellationToken);
    }

    private static async Task<int> RunAsync(RootCommand root, string[] args, CliContext ctx, CancellationToken cancellationToken)
    {
        var result = root.Parse(args);
        // SIGTERM (systemd's stop) and Ctrl-C cancel the command's token; give it time to close peers, tell trackers
        // "stopped" and fsync what it wrote before the process is ended (the default 2 s can cut a flush short).
        var config = new InvocationConfiguration { Output = ctx.Out, Error = ctx.Err, ProcessTerminationTimeout = TimeSpan.FromSeconds(30) };
        if (result.Errors.Count > 0)
        {
            await result.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        bool explicitLogOptions = result.GetResult(LogLevelName) is OptionResult { Implicit: false } || result.GetResult(LogFormatName) is OptionResult { Implicit: false };
        if (ctx.LoggerFactory is not NullLoggerFactory && !explicitLogOptions)
        {
            // A command run inside another (the demo runs create in-process): it logs through the outer command's loggers.
            return await result.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
        LogSettings settings;
        try
        {
            // Explicit values were checked by the parser; these can only fail when they came from the environment.
            settings = new LogSettings
            {
                Level = ParseFromOptionOrEnvironment(result.GetValue<string>(LogLevelName)!, LogSettings.ParseLevel, LogSettings.LevelVariable),
                Format = ParseFromOptionOrEnvironment(result.GetValue<string>(LogFormatName)!, LogSettings.ParseFormat, LogSettings.FormatVariable),
            };
        }
        catch (FormatException ex)
        {
            ctx.Fail(ex.Message);
            return ExitCodes.Usage;
        }

        var (outerFactory, outerSettings) = (ctx.LoggerFactory, ctx.LogSettings);
        // Disposed last: writes the lines still queued and flushes before the process exits.
        using var loggerFactory = LoggingSetup.CreateLoggerFactory(settings, ctx.Err);
        ctx.LoggerFactory = loggerFactory;
        ctx.LogSettings = settings;
        try
        {
            return await result.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ctx.LoggerFactory = outerFactory;
            ctx.LogSettings = outerSettings;
        }
    }

    private static T ParseFromOptionOrEnvironment<T>(string text, Func<string, T> parse, string variable)
    {
        try
        {
            return parse(text);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{variable}: {ex.Message}", ex);
        }
    }
}
