using BlockSwarm.Cli;

return await CliApp.RunAsync(args).ConfigureAwait(false);
