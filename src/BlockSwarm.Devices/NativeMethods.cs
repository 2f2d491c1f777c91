using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

public static partial class NativeMethods
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
        // File.OpenHandle refuses directories, so open(2) it directly.
        int fd = open(directory, ORdOnly | OCloExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{directory}: cannot open directory: {new Win32Exception(errno).Message} (errno {errno})");
        }
        using var h = new SafeFileHandle(fd, ownsHandle: true);
        Fsync(h, directory);
    }

    /// <summary>
    /// fallocate(2) mode 0: reserves blocks for [offset, offset + length) without changing the file size or its
    /// contents. Returns 0, or the errno (EOPNOTSUPP on file systems without it, ENOSPC when the space is not there).
    /// </summary>
    public static int Fallocate(SafeFileHandle handle, long offset, long length)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return fallocate(handle.DangerousGetHandle().ToInt32(), 0, offset, length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    public const int ENOSPC = 28;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long length);

    // O_RDONLY opens a directory for fsync; O_CLOEXEC has the same value on x86-64 and arm64 Linux.
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
