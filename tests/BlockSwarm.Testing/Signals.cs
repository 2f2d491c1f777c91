using System.Runtime.InteropServices;

namespace BlockSwarm.Testing;

/// <summary>kill(2): a signal without starting a <c>kill</c> process for it.</summary>
internal static partial class Signals
{
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/>; a process that is already gone (ESRCH) is not an error here.</summary>
    public static void Send(int pid, int signal) => _ = SysKill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int sig);
}
