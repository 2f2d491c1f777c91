using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

/// <summary>The system calls of the O_DIRECT write path: open, pwrite, pwritev, statx (STATX_DIOALIGN), fstatfs and BLKSSZGET.</summary>
public static partial class NativeMethods
{
    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int EOPNOTSUPP = 95;

    /// <summary>statfs f_type of tmpfs (also devtmpfs and shmem) and ramfs: file systems that keep files in the page cache itself.</summary>
    public const long TmpfsMagic = 0x01021994;
    public const long RamfsMagic = 0x858458f6;

    private const int OWrOnly = 1;

    // O_DIRECT is one of the few open flags whose value differs between Linux architectures.
    private static int ODirect => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        var other => throw new PlatformNotSupportedException($"O_DIRECT's value is not known for {other}"),
    };

    /// <summary>open(path, O_WRONLY | O_DIRECT | O_CLOEXEC). Returns the handle, or null with the errno.</summary>
    public static SafeFileHandle? OpenDirectWrite(string path, out int errno)
    {
        int fd = open(path, OWrOnly | ODirect | OCloExec);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>pwrite(2) once: the byte count, or -errno.</summary>
    public static unsafe long Pwrite(SafeFileHandle handle, byte* buffer, int length, long offset)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint n = pwrite(handle.DangerousGetHandle().ToInt32(), buffer, (nuint)length, offset);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>struct iovec: one buffer of a gather write.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public nint Base;
        public nuint Length;
    }

    /// <summary>pwritev(2) once, <paramref name="count"/> ≤ IOV_MAX buffers: the byte count, or -errno.</summary>
    public static unsafe long Pwritev(SafeFileHandle handle, IoVec* iov, int count, long offset)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint n = pwritev(handle.DangerousGetHandle().ToInt32(), iov, count, offset);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>BLKSSZGET: the logical block size of a block device, the unit O_DIRECT offsets and lengths must be multiples of.</summary>
    public static int GetLogicalBlockSize(SafeFileHandle handle, string path)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int size = 0;
            if (ioctl(handle.DangerousGetHandle().ToInt32(), BlkSszGet, ref size) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"{path}: BLKSSZGET failed: {new Win32Exception(errno).Message} (errno {errno})");
            }
            return size;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>What statx says about a handle: its identity, and its O_DIRECT alignment when the kernel reports one.</summary>
    public readonly record struct FileIdentity(ulong Device, ulong Inode, ulong RawDevice, bool HasDirectIOAlignment, uint DirectIOMemoryAlign, uint DirectIOOffsetAlign);

    /// <summary>
    /// statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_DIOALIGN). STATX_DIOALIGN (Linux 6.1) gives the file system's
    /// O_DIRECT requirements for this file; both alignments 0 means it does not support O_DIRECT on it.
    /// </summary>
    public static unsafe FileIdentity Statx(SafeFileHandle handle, string path)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            byte* buf = stackalloc byte[StatxSize];
            new Span<byte>(buf, StatxSize).Clear();
            if (statx(handle.DangerousGetHandle().ToInt32(), "", AtEmptyPath, StatxIno | StatxDioAlign, buf) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"{path}: statx failed: {new Win32Exception(errno).Message} (errno {errno})");
            }
            uint mask = *(uint*)buf;
            static ulong Dev(byte* b, int at) => ((ulong)*(uint*)(b + at) << 32) | *(uint*)(b + at + 4);
            return new FileIdentity(
                Device: Dev(buf, 136),
                Inode: *(ulong*)(buf + 32),
                RawDevice: Dev(buf, 128),
                HasDirectIOAlignment: (mask & StatxDioAlign) != 0,
                DirectIOMemoryAlign: *(uint*)(buf + 152),
                DirectIOOffsetAlign: *(uint*)(buf + 156));
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>fstatfs(2)'s f_type: the file system a handle's file lives on (for a device node, the file system holding the node).</summary>
    public static unsafe long FileSystemType(SafeFileHandle handle, string path)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            // struct statfs is 120 bytes on x86-64 and arm64; f_type (a long) comes first on both.
            byte* buf = stackalloc byte[StatfsSize];
            new Span<byte>(buf, StatfsSize).Clear();
            if (fstatfs(handle.DangerousGetHandle().ToInt32(), buf) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"{path}: fstatfs failed: {new Win32Exception(errno).Message} (errno {errno})");
            }
            return *(long*)buf;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private const int StatfsSize = 256;

    // struct statx is 256 bytes; stx_ino at 32, stx_rdev_{major,minor} at 128, stx_dev_{major,minor} at 136,
    // stx_dio_mem_align at 152, stx_dio_offset_align at 156 (include/uapi/linux/stat.h).
    private const int StatxSize = 256;
    private const uint StatxIno = 0x100;
    private const uint StatxDioAlign = 0x2000;
    private const int AtEmptyPath = 0x1000;

    // _IO(0x12, 104)
    private const uint BlkSszGet = 0x1268;

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, uint request, ref int value);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwritev(int fd, IoVec* iov, int iovcnt, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int fstatfs(int fd, byte* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
