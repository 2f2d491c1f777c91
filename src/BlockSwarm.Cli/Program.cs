using BlockSwarm.Cli;

// Socket completions run on the epoll thread instead of hopping to the thread pool: the transport's pumps only
// copy into a pipe and re-arm the read, and pipe readers still resume on the pool. On a 2-core box the hop per
// receive was a large share of the engine's CPU. Read once, when the first socket is used: set it before that.
// An operator can still force it off with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

// Started through a link named `ezio` (Clonezilla runs `ezio ...`), the program is the EZIO-compatible daemon.
return await CliApp.RunAsync(args).ConfigureAwait(false);
