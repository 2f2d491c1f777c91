using System.Collections.Concurrent;
using System.Globalization;

namespace BlockSwarm.Testing;

/// <summary>
/// Checks what a test needs from the machine (root, a loop device, network namespaces, a Debian tool) and skips it
/// with the reason when something is missing, recording the reason for test.sh's skip summary. Under CI (CI=true:
/// root, every Debian package installed) a missing requirement is a broken set-up, not a reason to skip, so the test
/// fails instead, unless the requirement is optional (<see cref="Need.IsOptional"/>, <see cref="OptIn"/>).
/// </summary>
public static class Requires
{
    /// <summary>test.sh points this at a file; every skip appends "test name TAB reason" to it.</summary>
    public const string SkipLogVariable = "BLOCKSWARM_SKIP_LOG";

    private static readonly ConcurrentDictionary<string, Lazy<string?>> s_checks = new();

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips (or under CI fails) unless every need is met; see <see cref="Need"/> for the names.</summary>
    public static void All(params IEnumerable<string> needs)
    {
        foreach (var need in needs)
            if (Why(need) is { } reason) Unmet(reason, Need.IsOptional(need));
    }

    public static void Root() => All(Need.Root);

    public static void LoopDevice() => All(Need.Root, Need.LoopDevice);

    public static void NetworkNamespaces() => All(Need.Root, Need.NetworkNamespaces);

    public static void PythonLibtorrent() => All(Need.PythonLibtorrent);

    public static void Tools(params string[] tools) => All(tools);

    /// <summary>A requirement no <see cref="Need"/> names (a tool's system user, a build artifact): skips, or fails under CI.</summary>
    public static void That(bool condition, string reason)
    {
        if (!condition) Unmet(reason, optional: false);
    }

    /// <summary>A test that runs only when asked (a measurement, not a check): skips unless <paramref name="variable"/>=1, also under CI.</summary>
    public static void OptIn(string variable, string what)
    {
        if (Environment.GetEnvironmentVariable(variable) != "1") Unmet($"set {variable}=1 to {what}", optional: true);
    }

    /// <summary>Why <paramref name="need"/> is not met on this machine, or null; probes run once per process.</summary>
    public static string? Why(string need) => s_checks.GetOrAdd(need, n => new Lazy<string?>(() => Probe(n))).Value;

    private static string? Probe(string need) => need switch
    {
        Need.Root => Tool.IsRoot ? null : "needs root",
        Need.LoopDevice => Why(Need.Root) ?? Testing.LoopDevice.Unavailable(),
        Need.NetworkNamespaces => Why(Need.Root) ?? NetworkNamespace.Unavailable(),
        Need.PythonLibtorrent => !File.Exists(Tool.SystemPython) ? $"{Tool.SystemPython} is not installed"
            : Tool.Run(Tool.SystemPython, ["-c", "import libtorrent"], check: false).ExitCode != 0 ? "python3-libtorrent is not installed"
            : null,
        Need.PythonGrpc => !File.Exists(Tool.SystemPython) ? $"{Tool.SystemPython} is not installed"
            : Tool.Run(Tool.SystemPython, ["-c", "import grpc, grpc_tools.protoc"], check: false).ExitCode != 0 ? "python3-grpcio and python3-grpc-tools are not installed"
            : null,
        Need.Tmpfs => FileSystemOf("/dev/shm") is "tmpfs" ? null : "/dev/shm is not a tmpfs",
        Need.DirectIO => DirectIOUnavailable(),
        Need.Kvm => File.Exists("/dev/kvm") ? null : "no /dev/kvm",
        Need.Tap => File.Exists("/dev/net/tun") ? null : "no /dev/net/tun (TAP devices for virtual machines)",
        _ => Tool.Exists(need) ? null : $"{need} is not installed",
    };

    /// <summary>The type name of the file system holding <paramref name="path"/> (stat -f: ext2/ext3, xfs, tmpfs, ramfs, …).</summary>
    public static string FileSystemOf(string path) => Tool.Run("stat", ["-f", "-c", "%T", path], check: false).StdOut.Trim();

    private static string? DirectIOUnavailable()
    {
        string temp = Path.GetTempPath();
        string fs = FileSystemOf(temp);
        if (fs is "tmpfs" or "ramfs") return $"the temp directory {temp} is on {fs}, which keeps files in memory: no O_DIRECT to test";
        string probe = Path.Combine(temp, $"blockswarm-direct-io-probe-{Environment.ProcessId}");
        try
        {
            var dd = Tool.Run("dd", ["if=/dev/zero", $"of={probe}", "bs=4096", "count=1", "oflag=direct"], check: false);
            return dd.ExitCode == 0 ? null : $"the temp directory {temp} ({fs}) refuses O_DIRECT writes: {dd.StdErr.Trim()}";
        }
        finally
        {
            File.Delete(probe);
        }
    }

    private static void Unmet(string reason, bool optional)
    {
        // Outside a test (the bench and the lab use the same rigs) there is nothing to skip: say what is missing.
        if (TestContext.Current.Test is null) throw new InvalidOperationException(reason);
        if (InCi && !optional)
            Assert.Fail($"CI=true, yet this test's requirement is missing: {reason}. CI runs as root with every Debian package " +
                        "installed (scripts/install-deps.sh), so this is a broken set-up, not a reason to skip.");
        Record(reason);
        Assert.Skip(reason);
    }

    private static void Record(string reason)
    {
        if (Environment.GetEnvironmentVariable(SkipLogVariable) is not { Length: > 0 } log) return;
        var test = TestContext.Current.Test?.TestDisplayName ?? "?";
        // One short append per skip: O_APPEND keeps lines from parallel test processes whole.
        File.AppendAllText(log, string.Create(CultureInfo.InvariantCulture, $"{test.ReplaceLineEndings(" ")}\t{reason.ReplaceLineEndings(" ")}\n"));
    }
}
