using System.CommandLine;
using BlockSwarm.Security;
using BlockSwarm.Tracker;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm tracker</c>: the embedded HTTP tracker on its own.</summary>
public static class TrackerCommand
{
    public static Command Build(CliContext ctx)
    {
        var listen = new Option<string>("--listen") { Description = "IP:PORT to serve /announce and /scrape on", DefaultValueFactory = _ => "0.0.0.0:6969" };
        var allow = new Option<string[]>("--allow") { Description = "Only serve these info-hashes: 40 hex digits, or a FILE with one per line (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var secretFile = EngineCommands.SecretFileOption();
        secretFile.Description = "Answer only announces that prove this swarm secret (BlockSwarm clients given the same file); refuse "
            + "standard BitTorrent clients and every scrape";
        var cmd = new Command("tracker", "Run a standalone HTTP BitTorrent tracker (BEP 3 announce and scrape, compact peers BEP 23, IPv6 peers BEP 7)") { listen, allow, secretFile };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = CommandSupport.CancelOnSignal(outer);
            try
            {
                var specs = pr.GetValue(allow) ?? [];
                var allowList = specs.Length > 0 ? AllowList.Parse(specs) : null;
                SwarmSecret? secret = EngineCommands.LoadSecret(ctx, pr.GetValue(secretFile));
                await using var host = new StandaloneTrackerHost(new TrackerOptions { LoggerFactory = ctx.LoggerFactory, SwarmSecret = secret });
                await host.StartAsync(CommandSupport.ParseEndPoint(pr.GetValue(listen)!, 6969), allowList, cts.Token).ConfigureAwait(false);
                ctx.Out.WriteLine($"tracker listening on {host.LocalEndPoint}: announce URL http://HOST:{host.LocalEndPoint.Port}/announce"
                    + (allowList is null ? "" : $", {specs.Length} allow-list entries")
                    + (secret is null ? "" : $", only for holders of swarm secret {secret.Id}"));
                ctx.Out.Flush();
                try { await Task.Delay(Timeout.Infinite, cts.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is FormatException or UsageException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
            catch (IOException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }
}
