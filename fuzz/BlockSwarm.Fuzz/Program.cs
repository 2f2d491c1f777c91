using System.Globalization;
using System.Security.Cryptography;
using BlockSwarm.Fuzz;
using SharpFuzz;

// blockswarm-fuzz TARGET                         run under SharpFuzz (afl-fuzz forkserver, or libFuzzer when
//                                                libfuzzer-dotnet started us); once on stdin otherwise
// blockswarm-fuzz TARGET --smoke N [--seed S] [--corpus DIR] [--crash-dir DIR]
// blockswarm-fuzz TARGET --replay FILE...
// blockswarm-fuzz TARGET --make-seeds DIR        seeds made by code (secure-channel: a recorded dialer)
if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
{
    Console.Error.WriteLine("usage: blockswarm-fuzz TARGET [--smoke N [--seed S] [--corpus DIR] [--crash-dir DIR] | --replay FILE...]");
    Console.Error.WriteLine("targets:");
    foreach (var t in FuzzTargets.All) Console.Error.WriteLine($"  {t.Name,-10} {t.Description}");
    return 2;
}

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

if (Option("--make-seeds") is { } seedDir)
{
    // Seeds that code must make (a valid handshake transcript, say): written once, committed under fuzz/corpus/.
    if (!FuzzTargets.SeedMakers.TryGetValue(target.Name, out var make))
    {
        Console.Error.WriteLine($"{target.Name}: its seeds come from fuzz/corpus/generate.sh");
        return 2;
    }
    Directory.CreateDirectory(seedDir);
    foreach (var (name, data) in make())
    {
        File.WriteAllBytes(Path.Combine(seedDir, name), data);
        Console.WriteLine($"{Path.Combine(seedDir, name)}: {data.Length} bytes, {(target.Run(data) ? "accepted" : "REJECTED")}");
    }
    return 0;
}

if (Array.IndexOf(args, "--replay") is var r and >= 0)
{
    int crashes = 0;
    foreach (var file in args.Skip(r + 1))
    {
        try
        {
            Console.WriteLine($"{file}: {(target.Run(File.ReadAllBytes(file)) ? "accepted" : "rejected")}");
        }
        catch (Exception ex)
        {
            crashes++;
            Console.WriteLine($"{file}: CRASH {ex}");
        }
    }
    return crashes == 0 ? 0 : 1;
}

if (Option("--smoke") is { } n)
{
    int iterations = int.Parse(n, CultureInfo.InvariantCulture);
    int seed = int.Parse(Option("--seed") ?? "1", CultureInfo.InvariantCulture);
    var corpusDir = Option("--corpus") ?? Path.Combine(AppContext.BaseDirectory, "corpus", target.Name);
    if (!Directory.Exists(corpusDir)) corpusDir = Path.Combine("fuzz", "corpus", target.Name);
    var result = SmokeFuzzer.Run(target, SmokeFuzzer.LoadCorpus(corpusDir), iterations, seed);
    Console.WriteLine(result);
    if (!result.Crashed) return 0;
    var crashDir = Option("--crash-dir") ?? "fuzz-crashes";
    Directory.CreateDirectory(crashDir);
    var path = Path.Combine(crashDir, $"{target.Name}-{Convert.ToHexStringLower(SHA1.HashData(result.CrashInput!))[..16]}.bin");
    File.WriteAllBytes(path, result.CrashInput!);
    Console.WriteLine($"input ({result.CrashInput!.Length} bytes): {Convert.ToHexStringLower(result.CrashInput)}");
    Console.WriteLine($"saved to {Path.GetFullPath(path)}");
    Console.WriteLine(result.CrashException);
    return 1;
}

if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") != null)
{
    Fuzzer.LibFuzzer.Run(span => target.Run(span.ToArray()));
}
else
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        target.Run(ms.ToArray());
    });
}
return 0;
