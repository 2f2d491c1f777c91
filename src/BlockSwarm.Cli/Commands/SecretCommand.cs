using System.CommandLine;
using BlockSwarm.Security;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm secret new|id FILE</c>: make a swarm secret file, or show which secret a file holds.</summary>
public static class SecretCommand
{
    public static Command Build(CliContext ctx)
    {
        var newFile = new Argument<string>("FILE") { Description = "Where to write the secret (created mode 0600; an existing file is never overwritten)" };
        var create = new Command("new", "Write a fresh 256-bit swarm secret to FILE, for serve/seed/fetch/deploy --secret-file (and blockswarm.secret= on netboot clients)") { newFile };
        create.SetAction(pr =>
        {
            try
            {
                var secret = SwarmSecret.CreateFile(pr.GetValue(newFile)!);
                ctx.Out.WriteLine($"wrote swarm secret {secret.Id} to {secret.Source}; copy it only to the machines of this swarm");
                return ExitCodes.Ok;
            }
            catch (SecretException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
        });
        var idFile = new Argument<string>("FILE") { Description = "A swarm secret file" };
        var id = new Command("id", "Print the public id of the secret in FILE (the same id means the same secret; it reveals nothing of it)") { idFile };
        id.SetAction(pr =>
        {
            try
            {
                var secret = SwarmSecret.Load(pr.GetValue(idFile)!);
                if (secret.FileModeWarning is { } warning) ctx.Warn(warning);
                ctx.Out.WriteLine(secret.Id);
                return ExitCodes.Ok;
            }
            catch (SecretException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
        });
        return new Command("secret", "Swarm secrets: only machines holding the same secret can join a swarm, over encrypted connections") { create, id };
    }
}
