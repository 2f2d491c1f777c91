namespace BlockSwarm.Testing;

/// <summary>
/// tests/scripts/ezio_client.py, a gRPC client of the EZIO daemon that is not ours: Python stubs generated from
/// src/BlockSwarm.Ezio/Protos/ezio.proto by Debian's python3-grpc-tools, on python3-grpcio. Copied next to every
/// assembly that references this project (tests, lab); always run by Debian's python.
/// </summary>
public static class EzioPy
{
    public static string Script => Path.Combine(AppContext.BaseDirectory, "ezio_client.py");

    public static string Proto => Path.Combine(RepoPaths.Root, "src", "BlockSwarm.Ezio", "Protos", "ezio.proto");

    /// <summary>Generates ezio_pb2.py and ezio_pb2_grpc.py into <paramref name="stubs"/>; returns it.</summary>
    public static string Generate(string stubs)
    {
        Requires.All(Need.PythonGrpc);
        var gen = Tool.Run(Tool.SystemPython, [Script, "gen", Proto, stubs], check: false);
        if (gen.ExitCode != 0 || !File.Exists(Path.Combine(stubs, "ezio_pb2_grpc.py")))
            throw new InvalidOperationException($"generating the EZIO stubs failed: {gen.StdOut}{gen.StdErr}");
        return stubs;
    }

    /// <summary><c>/usr/bin/python3 ezio_client.py --stubs STUBS ARGS…</c> as a spec (to start in a namespace, or run).</summary>
    public static ProcessSpec Spec(string stubs, string label, params IEnumerable<string> args) =>
        new(Tool.SystemPython, [Script, "--stubs", stubs, .. args]) { Label = label };

    /// <summary>The command line for a shell script: each argument single-quoted.</summary>
    public static string Shell(string stubs, params IEnumerable<string> args) =>
        string.Join(' ', new[] { Tool.SystemPython, Script, "--stubs", stubs }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
}
