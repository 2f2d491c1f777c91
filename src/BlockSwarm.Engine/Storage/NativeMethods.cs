using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Engine.Storage;

internal static partial class NativeMethods
{
    /// <summary>fsync(2) with errno in the message; a failed fsync means data may be lost, so it always throws.</summary>
    public static void Fsync(SafeFileHandle handle, string path)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fsync(handle.DangerousGetHandle().ToInt32()) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"{path}: fsync failed: {new Win32Exception(errno).Message} (errno {errno})");
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>fsync of a directory so a rename in it is durable.</summary>
    public static void FsyncDirectory(string directory)
    {
        using var h = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
        Fsync(h, directory);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
