using System.CommandLine;

namespace BlockSwarm.Cli;

/// <summary>Builds the command tree; each command parses, calls a service and maps the result to an exit code.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("BlockSwarm: deploy one disk image to many machines at once over BitTorrent, writing only used blocks straight to each block device.");
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BuildRoot();
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }
}
