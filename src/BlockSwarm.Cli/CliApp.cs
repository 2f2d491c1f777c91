using System.CommandLine;
using BlockSwarm.Cli.Commands;

namespace BlockSwarm.Cli;

/// <summary>Builds the command tree; each command parses, calls a service and maps the result to an exit code.</summary>
public static class CliApp
{
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
            DemoCommand.Build(ctx),
        };
        return root;
    }

    public static Task<int> RunAsync(string[] args) => RunAsync(args, CliContext.FromConsole());

    public static async Task<int> RunAsync(string[] args, CliContext ctx, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var root = BuildRoot(ctx);
        var result = root.Parse(args);
        var config = new InvocationConfiguration { Output = ctx.Out, Error = ctx.Err };
        if (result.Errors.Count > 0)
        {
            await result.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        return await result.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
    }
}
