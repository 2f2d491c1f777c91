using BlockSwarm.Bench;

// blockswarm-bench create [--cache DIR] [--reps N]
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

if (args.Length == 0 || args[0] != "create")
{
    Console.Error.WriteLine("usage: blockswarm-bench create [--cache DIR (default /tmp/blockswarm-bench)] [--reps N (default 3)]");
    return 2;
}
return CreateBenchmark.Run(Option("--cache") ?? "/tmp/blockswarm-bench", int.Parse(Option("--reps") ?? "3", System.Globalization.CultureInfo.InvariantCulture), Console.Out);
