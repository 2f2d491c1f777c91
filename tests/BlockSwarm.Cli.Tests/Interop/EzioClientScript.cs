using System.Text.Json;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// tests/scripts/ezio_client.py: a gRPC client of the EZIO daemon that is not ours (Python stubs generated from
/// src/BlockSwarm.Ezio/Protos/ezio.proto by Debian's python3-grpc-tools, on python3-grpcio).
/// </summary>
internal sealed class EzioClientScript
{
    private EzioClientScript(string stubs) => Stubs = stubs;

    public static string Script => EzioPy.Script;

    /// <summary>Where the generated ezio_pb2.py and ezio_pb2_grpc.py are.</summary>
    public string Stubs { get; }

    /// <summary>Generates the stubs into <paramref name="dir"/> (skips the test, or fails it under CI, without the Python packages).</summary>
    public static EzioClientScript Generate(TempDirectory dir) => new(EzioPy.Generate(dir.File("stubs")));

    /// <summary>Runs one command; a non-zero exit fails the test unless <paramref name="check"/> is false.</summary>
    public ProcessResult Run(bool check, params string[] args)
    {
        var r = Tool.Run(Tool.SystemPython, [Script, "--stubs", Stubs, .. args], check: false, timeout: TimeSpan.FromMinutes(4));
        if (check) Assert.True(r.ExitCode == 0, $"ezio_client.py {string.Join(' ', args)} exited {r.ExitCode}: {r.StdOut}{r.StdErr}");
        return r;
    }

    public ProcessResult Run(params string[] args) => Run(true, args);

    /// <summary>Status of torrents by hash: their fields by .proto name.</summary>
    public static Dictionary<string, Dictionary<string, JsonElement>> Parse(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, JsonElement>>>(json)!;

    public Dictionary<string, JsonElement> Status(string addr, string hash) => Parse(Run(addr, "status", hash).StdOut)[hash];

    /// <summary>The program as Clonezilla starts EZIO: a link named ezio to the native binary.</summary>
    public static string EzioLink(TempDirectory dir)
    {
        var ezio = dir.File("ezio");
        File.CreateSymbolicLink(ezio, NativeCliTests.Binary());
        return ezio;
    }
}
