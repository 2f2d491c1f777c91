namespace BlockSwarm.Cli;

/// <summary>Where commands write, and whether a person is watching (progress bars) or a script (plain lines).</summary>
public sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, bool interactive)
    {
        Out = output;
        Err = error;
        Interactive = interactive;
    }

    public TextWriter Out { get; }
    public TextWriter Err { get; }
    public bool Interactive { get; }

    /// <summary>Where the commands' services log (the engine, the server, the client).</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory LoggerFactory { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;

    public static CliContext FromConsole() =>
        new(Console.Out, Console.Error, !Console.IsOutputRedirected && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null);

    public void Warn(string message) => Err.WriteLine($"warning: {message}");

    public void Fail(string message) => Err.WriteLine($"error: {message}");
}
