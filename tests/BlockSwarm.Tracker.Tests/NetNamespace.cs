using System.Runtime.InteropServices;
using BlockSwarm.Testing;

namespace BlockSwarm.Tracker.Tests;

/// <summary>
/// A throw-away network namespace with loopback up and a multicast route on lo. Code runs
/// inside it on a dedicated thread that calls setns(2): a namespace is per thread on Linux, and
/// a socket stays in the namespace it was created in whichever thread uses it later.
/// </summary>
internal sealed partial class NetNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private NetNamespace(string name) => Name = name;

    public string Name { get; }

    public static NetNamespace? TryCreate(out string why)
    {
        why = "";
        if (!Tool.IsRoot || !Tool.Exists("ip")) { why = "needs root and iproute2"; return null; }
        var name = "bs-lsd-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var r = Tool.Run("ip", ["netns", "add", name], check: false);
        if (r.ExitCode != 0) { why = "ip netns add failed: " + r.StdErr; return null; }
        var ns = new NetNamespace(name);
        Tool.Run("ip", "-n", name, "link", "set", "lo", "up");
        Tool.Run("ip", "-n", name, "route", "add", "239.0.0.0/8", "dev", "lo", "src", "127.0.0.1");
        return ns;
    }

    public T Run<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle("/var/run/netns/" + Name);
                if (SetNs((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                result = action();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (error != null) throw new InvalidOperationException("in namespace " + Name, error);
        return result;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    public void Dispose() => Tool.Run("ip", ["netns", "del", Name], check: false);
}
