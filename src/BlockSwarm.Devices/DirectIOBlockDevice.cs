using System.Buffers;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

/// <summary>Why a target is not written with O_DIRECT; <paramref name="InMemoryFileSystem"/>: it lives on tmpfs or ramfs.</summary>
public sealed record DirectIORefusal(string Reason, bool InMemoryFileSystem = false)
{
    public override string ToString() => Reason;
}

/// <summary>
/// An <see cref="IBlockDevice"/> whose writes bypass the page cache (O_DIRECT): the target is opened a second time with
/// O_DIRECT, and each write run is split by <see cref="DirectIOPlan"/>: its aligned middle is written with O_DIRECT, its
/// unaligned head and tail (shorter than one block each) through the ordinary buffered handle. Nothing outside the run
/// is ever written, so no sector is read, patched and written back. The aligned middle goes straight from the caller's
/// buffers (one <c>pwritev</c>) when every one of them is aligned in memory and length (piece buffers from a
/// <c>PieceBufferPool</c> are), else through aligned bounce buffers. Up to <see cref="MaxWritesInFlight"/> direct writes
/// of a batch (<see cref="WriteRuns"/>) run at once on threads of the device's own: pieces arrive scattered, a batch is
/// often several single-piece runs, and one write at a time leaves the disk's queue nearly empty. Reads stay buffered.
/// <see cref="Flush"/> is still an fsync: O_DIRECT skips the page cache, not the device's own write cache, and on a file
/// system the block allocation of the written extents is metadata that only fsync commits.
/// </summary>
public sealed unsafe class DirectIOBlockDevice : IBlockDevice
{
    /// <summary>Most bounce-buffer memory a device holds: large enough that the block layer keeps several requests in flight.</summary>
    public const int MaxBounceBytes = 8 << 20;

    /// <summary>Direct writes of one batch in flight at once (a 4 MiB write is one request of a disk taking 4 MiB ones).</summary>
    public const int MaxWritesInFlight = 4;

    /// <summary>Longest single direct write from the caller's buffers: longer runs are cut so that writers share them.</summary>
    public const int MaxZeroCopyBytes = 8 << 20;

    /// <summary>Used when the kernel does not report a file's O_DIRECT alignment (statx STATX_DIOALIGN, Linux 6.1).</summary>
    public const int FallbackAlignment = 4096;

    private readonly DeviceFile _file;
    private readonly SafeFileHandle _direct;
    private readonly AlignedBufferPool _bounce;
    private readonly ParallelWrites _writers;
    private readonly bool _ownsFile;
    private readonly Action<string>? _onRefusedAtWrite;
    private volatile bool _refused;
    private int _refusalReported;
    private long _directBytes;
    private long _zeroCopyBytes;
    private long _bufferedBytes;
    private long _directCalls;

    private DirectIOBlockDevice(DeviceFile file, SafeFileHandle direct, int alignment, long cacheBytes, bool ownsFile, Action<string>? onRefusedAtWrite)
    {
        _file = file;
        _direct = direct;
        _ownsFile = ownsFile;
        _onRefusedAtWrite = onRefusedAtWrite;
        Alignment = alignment;
        // The bounce memory (a sixteenth of the write-back cache) is cut into one buffer per write in flight; buffers are
        // allocated only when a write needs one.
        int total = BounceBytesFor(cacheBytes, alignment);
        int each = Math.Max(alignment, total / MaxWritesInFlight / alignment * alignment);
        _bounce = new AlignedBufferPool(each, alignment, maxBuffers: Math.Clamp(total / each, 1, MaxWritesInFlight));
        _writers = new ParallelWrites(MaxWritesInFlight, System.IO.Path.GetFileName(file.Path));
        PwriteCall = (b, n, o) => NativeMethods.Pwrite(_direct, b, n, o);
        PwritevCall = (iov, n, o) => NativeMethods.Pwritev(_direct, iov, n, o);
    }

    public string Name => _file.Path;
    public long Size => _file.Size;
    public bool CanWrite => true;

    /// <summary>The target, opened buffered: reads, the unaligned edges, fsync (and a second descriptor for sendfile).</summary>
    public DeviceFile File => _file;

    /// <summary>Direct writes are aligned to this in device offset, length and memory address.</summary>
    public int Alignment { get; }

    /// <summary>True once the kernel refused a direct write and the device went on writing buffered (see <see cref="TryOpen"/>).</summary>
    public bool Refused => _refused;

    /// <summary>Bounce-buffer memory this device may hold (all its buffers), taken out of the write-back cache.</summary>
    public int BounceBytes => _bounce.BufferBytes * _bounce.MaxBuffers;

    /// <summary>One bounce buffer: the longest direct write of bytes that are not aligned in memory.</summary>
    public int BounceChunkBytes => _bounce.BufferBytes;

    public long DirectBytes => Interlocked.Read(ref _directBytes);

    /// <summary>Of <see cref="DirectBytes"/>, those written straight from the caller's buffers, without a bounce copy.</summary>
    public long ZeroCopyBytes => Interlocked.Read(ref _zeroCopyBytes);

    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);
    public long DirectCalls => Interlocked.Read(ref _directCalls);
    internal AlignedBufferPool BouncePool => _bounce;

    /// <summary>The pwrite(2) of the direct handle (bounce writes); tests put a failing one in its place.</summary>
    internal Pwrite PwriteCall { get; set; }

    /// <summary>The pwritev(2) of the direct handle (writes from the caller's buffers); tests put a failing one in its place.</summary>
    internal Pwritev PwritevCall { get; set; }

    /// <summary>Bounce memory for a write-back cache of <paramref name="cacheBytes"/>: a sixteenth of it, one aligned block at least, <see cref="MaxBounceBytes"/> at most.</summary>
    public static int BounceBytesFor(long cacheBytes, int alignment) =>
        (int)Math.Max(alignment, Math.Min(MaxBounceBytes, cacheBytes / 16) / alignment * alignment);

    /// <summary>
    /// Opens <paramref name="file"/> (a writable device or image file) a second time with O_DIRECT, as asked for
    /// explicitly (<c>--write-mode direct</c>): where O_DIRECT cannot be used, throws a <see cref="StorageException"/>
    /// naming the path and why.
    /// </summary>
    public static DirectIOBlockDevice Open(DeviceFile file, long cacheBytes, bool ownsFile = true) =>
        TryOpen(file, cacheBytes, out var device, out var refusal, ownsFile)
            ? device
            : throw new StorageException($"{file.Path}: cannot write with O_DIRECT: {refusal.Reason}; write it through the page cache instead (--write-mode auto or buffered)");

    /// <summary>
    /// Opens <paramref name="file"/> a second time with O_DIRECT, or says why O_DIRECT is not for it (false, with the
    /// reason and the kernel's errno text where it gave one; the file stays open and the caller's, to write buffered):
    /// open(O_DIRECT) fails with EINVAL or EOPNOTSUPP; statx says the file system does not do O_DIRECT on the file
    /// (ext4 with data=journal); the file lives on tmpfs or ramfs, which keep files in the page cache itself (newer
    /// kernels accept O_DIRECT there and write into memory as usual: there is nothing to bypass, only a copy to add);
    /// the alignment is one the bounce buffer cannot serve. Every other failure throws.
    /// <para>
    /// With <paramref name="onRefusedAtWrite"/>, a direct write the kernel refuses (EINVAL: the file system wanted another
    /// alignment after all; nothing of that write is on the device) is a refusal too: the device calls it once with
    /// why and writes everything buffered from then on. Without it such a write throws like any failed write.
    /// </para>
    /// </summary>
    public static bool TryOpen(DeviceFile file, long cacheBytes, [NotNullWhen(true)] out DirectIOBlockDevice? device,
        [NotNullWhen(false)] out DirectIORefusal? refusal, bool ownsFile = true, Action<string>? onRefusedAtWrite = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.IsWritable) throw new InvalidOperationException($"{file.Path} is open read-only");
        device = null;
        // A device node's own file system is devtmpfs (tmpfs's magic): only files are asked.
        if (!file.IsBlockDevice && NativeMethods.FileSystemType(file.Handle, file.Path) is var fsType
            && fsType is NativeMethods.TmpfsMagic or NativeMethods.RamfsMagic)
        {
            refusal = new($"{(fsType == NativeMethods.TmpfsMagic ? "tmpfs" : "ramfs")} keeps files in memory, so there is no page cache to bypass", InMemoryFileSystem: true);
            return false;
        }
        var direct = NativeMethods.OpenDirectWrite(file.Path, out int errno);
        if (direct is null)
        {
            if (errno is NativeMethods.EINVAL or NativeMethods.EOPNOTSUPP)
            {
                refusal = new($"the file system refuses O_DIRECT: {new Win32Exception(errno).Message} (errno {errno})");
                return false;
            }
            throw new StorageException($"{file.Path}: cannot open for O_DIRECT writing: {new Win32Exception(errno).Message} (errno {errno})");
        }
        try
        {
            if (AlignmentOf(file, direct, out string? why) is not { } alignment)
            {
                direct.Dispose();
                refusal = new(why!);
                return false;
            }
            refusal = null;
            device = new DirectIOBlockDevice(file, direct, alignment, cacheBytes, ownsFile, onRefusedAtWrite);
            return true;
        }
        catch (Exception ex)
        {
            direct.Dispose();
            if (ex is StorageException) throw;
            throw new StorageException($"{file.Path}: cannot set up O_DIRECT writing: {ex.Message}", ex);
        }
    }

    /// <summary>The alignment of direct writes, or null with why O_DIRECT is not for this file.</summary>
    private static int? AlignmentOf(DeviceFile file, SafeFileHandle direct, out string? refusal)
    {
        refusal = null;
        var buffered = NativeMethods.Statx(file.Handle, file.Path);
        var other = NativeMethods.Statx(direct, file.Path);
        if (buffered.Device != other.Device || buffered.Inode != other.Inode || buffered.RawDevice != other.RawDevice)
            throw new StorageException($"{file.Path}: the path changed between the two opens (O_DIRECT and buffered); refusing to write");
        long required;
        if (file.IsBlockDevice)
        {
            required = NativeMethods.GetLogicalBlockSize(file.Handle, file.Path);
        }
        else if (other.HasDirectIOAlignment)
        {
            if (other.DirectIOOffsetAlign == 0)
            {
                // ext4 with data=journal, for one: the kernel would take O_DIRECT and write through the page cache anyway.
                refusal = "the file system does not do O_DIRECT on this file (statx reports no O_DIRECT alignment for it)";
                return null;
            }
            required = Math.Max(other.DirectIOOffsetAlign, other.DirectIOMemoryAlign);
        }
        else
        {
            required = FallbackAlignment;
        }
        // At least a page: then no page the buffered edges dirty overlaps a direct write, so the kernel never has to
        // write back or invalidate a page under a direct write (a synchronous stall, or stale-cache warnings).
        long alignment = Math.Max(required, Environment.SystemPageSize);
        if (alignment > MaxBounceBytes || (alignment & (alignment - 1)) != 0)
        {
            refusal = $"its O_DIRECT alignment of {required} bytes is not one this writer can use";
            return null;
        }
        return (int)alignment;
    }

    public void Read(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        CheckRange(offset, PositionalIO.TotalLength(buffers), "read");
        PositionalIO.ReadExactly(_file.Handle, Name, offset, buffers);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers) => WriteRuns([new WriteRun(offset, buffers)]);

    /// <summary>
    /// Writes the runs: their unaligned edges buffered first, then their aligned middles as direct writes, up to
    /// <see cref="MaxWritesInFlight"/> at once; returns when every byte is written (or throws the first failure, after
    /// the writes already in flight ended).
    /// </summary>
    public void WriteRuns(IReadOnlyList<WriteRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        foreach (var run in runs) CheckRange(run.Offset, PositionalIO.TotalLength(run.Buffers), "write");
        if (_refused)
        {
            foreach (var run in runs) WriteBuffered(run.Offset, run.Buffers);
            return;
        }
        var work = new List<DirectWrite>();
        var pins = new List<MemoryHandle>();
        try
        {
            var ops = new List<DirectIOPlan.Op>(4);
            foreach (var run in runs)
            {
                ops.Clear();
                DirectIOPlan.Split(run.Offset, PositionalIO.TotalLength(run.Buffers), Alignment, MaxZeroCopyBytes, ops);
                foreach (var op in ops)
                {
                    var part = PositionalIO.Range(run.Buffers, op.Offset - run.Offset, op.Length);
                    if (op.Direct) Plan(op.Offset, part, pins, work);
                    else WriteBuffered(op.Offset, part);
                }
            }
            _writers.Run(work.Count, i => WriteDirectly(work[i]));
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
        }
    }

    /// <summary>One direct write: from the caller's (pinned, aligned) buffers when <see cref="Iov"/> is set, else through a bounce buffer.</summary>
    private sealed record DirectWrite(long Offset, int Length, List<ReadOnlyMemory<byte>> Parts, NativeMethods.IoVec[]? Iov);

    /// <summary>
    /// Cuts the aligned middle of a run into direct writes: each stretch of buffers that are aligned in memory and length
    /// (pinned, then left pinned until the batch is written) one write straight from them; the stretches between, bounce
    /// writes of at most one bounce buffer. A stretch ends only where the device offset is aligned.
    /// </summary>
    private void Plan(long offset, List<ReadOnlyMemory<byte>> parts, List<MemoryHandle> pins, List<DirectWrite> work)
    {
        long start = offset;
        long pos = offset;
        var stretch = new List<ReadOnlyMemory<byte>>();
        var iov = new List<NativeMethods.IoVec>();
        bool? aligned = null;
        foreach (var part in parts)
        {
            var handle = part.Pin();
            pins.Add(handle);
            nint address = (nint)handle.Pointer;
            bool ok = (address & (Alignment - 1)) == 0 && (part.Length & (Alignment - 1)) == 0;
            if (aligned is { } current && ok != current && (pos & (Alignment - 1)) == 0)
            {
                Add(start, pos, stretch, current ? iov : null, work);
                start = pos;
                stretch = [];
                iov = [];
                aligned = null;
            }
            // A buffer that is not aligned makes its stretch a bounce one until the offset is aligned again.
            aligned = aligned is null ? ok : aligned.Value && ok;
            stretch.Add(part);
            iov.Add(new NativeMethods.IoVec { Base = address, Length = (nuint)part.Length });
            pos += part.Length;
        }
        if (pos > start) Add(start, pos, stretch, aligned == true ? iov : null, work);
    }

    private void Add(long start, long end, List<ReadOnlyMemory<byte>> stretch, List<NativeMethods.IoVec>? iov, List<DirectWrite> work)
    {
        int length = checked((int)(end - start));
        if (iov is not null)
        {
            work.Add(new DirectWrite(start, length, stretch, [.. iov]));
            return;
        }
        for (int at = 0; at < length; at += BounceChunkBytes)
        {
            int n = Math.Min(BounceChunkBytes, length - at);
            work.Add(new DirectWrite(start + at, n, PositionalIO.Range(stretch, at, n), null));
        }
    }

    private void WriteDirectly(DirectWrite w)
    {
        if (_refused)
        {
            WriteBuffered(w.Offset, w.Parts);
            return;
        }
        bool refuse = _onRefusedAtWrite is not null;
        int done;
        bool refused;
        if (w.Iov is { } iov)
        {
            fixed (NativeMethods.IoVec* v = iov)
                done = WriteGather(PwritevCall, Name, v, iov.Length, w.Length, w.Offset, Alignment, refuse, out refused);
            Interlocked.Add(ref _zeroCopyBytes, done);
        }
        else
        {
            byte* bounce = _bounce.Rent();
            try
            {
                var dest = new Span<byte>(bounce, w.Length);
                int at = 0;
                foreach (var m in w.Parts)
                {
                    m.Span.CopyTo(dest[at..]);
                    at += m.Length;
                }
                done = WriteDirect(PwriteCall, Name, bounce, w.Length, w.Offset, Alignment, refuse, out refused);
            }
            finally
            {
                _bounce.Return(bounce);
            }
        }
        Interlocked.Increment(ref _directCalls);
        Interlocked.Add(ref _directBytes, done);
        if (refused)
        {
            _refused = true;
            if (Interlocked.Exchange(ref _refusalReported, 1) == 0)
                _onRefusedAtWrite!($"the kernel refused an O_DIRECT write of {w.Length - done} bytes at offset {w.Offset + done}: "
                    + $"{new Win32Exception(NativeMethods.EINVAL).Message} (errno {NativeMethods.EINVAL})");
        }
        // A short direct write that stopped off the alignment, or one refused: the rest still lies inside the run, so
        // write it buffered (an error there, e.g. ENOSPC, then surfaces as a StorageException).
        if (done < w.Length)
            WriteBuffered(w.Offset + done, PositionalIO.Range(w.Parts, done, w.Length - done));
    }

    private void WriteBuffered(long offset, IReadOnlyList<ReadOnlyMemory<byte>> part)
    {
        try
        {
            PositionalIO.WriteAll(_file.Handle, offset, part);
        }
        catch (IOException ex) when (ex is not StorageException)
        {
            throw new StorageException($"{Name}: writing {PositionalIO.TotalLength(part)} bytes at offset {offset} failed: {ex.Message}", ex);
        }
        Interlocked.Add(ref _bufferedBytes, PositionalIO.TotalLength(part));
    }

    /// <summary>One pwrite(2): the byte count, or -errno.</summary>
    internal delegate long Pwrite(byte* buffer, int length, long offset);

    internal static int WriteDirect(Pwrite pwrite, string name, byte* buffer, int length, long offset, int alignment) =>
        WriteDirect(pwrite, name, buffer, length, offset, alignment, stopOnEinval: false, out _);

    /// <summary>
    /// Writes <paramref name="length"/> aligned bytes with O_DIRECT, checking every count: EINTR and short counts that
    /// end on the alignment are retried; an error throws a <see cref="StorageException"/> with the path and offset; a
    /// short count off the alignment cannot be continued directly, so it returns the bytes written for the caller to
    /// finish buffered. With <paramref name="stopOnEinval"/>, EINVAL (the kernel refusing the O_DIRECT write itself,
    /// nothing of it written) returns the bytes written before it, with <paramref name="einval"/> set, instead of throwing.
    /// </summary>
    internal static int WriteDirect(Pwrite pwrite, string name, byte* buffer, int length, long offset, int alignment, bool stopOnEinval, out bool einval)
    {
        // One buffer is a gather write of one segment: the same loop, the same checks of every count.
        var iov = new NativeMethods.IoVec { Base = (nint)buffer, Length = (nuint)length };
        return WriteGather((v, _, at) => pwrite((byte*)v->Base, (int)v->Length, at), name, &iov, 1, length, offset, alignment, stopOnEinval, out einval);
    }

    /// <summary>The checks every direct write's count gets: an error, nothing written, more than asked.</summary>
    private static void CheckWritten(long n, string name, int remaining, long at)
    {
        if (n < 0)
        {
            int errno = (int)-n;
            throw new StorageException($"{name}: O_DIRECT write of {remaining} bytes at offset {at} failed: {new Win32Exception(errno).Message} (errno {errno})");
        }
        if (n == 0) throw new StorageException($"{name}: O_DIRECT write at offset {at} wrote nothing ({remaining} bytes left)");
        if (n > remaining) throw new StorageException($"{name}: O_DIRECT write at offset {at} reported {n} bytes for {remaining}");
    }

    /// <summary>One pwritev(2): the byte count, or -errno.</summary>
    internal delegate long Pwritev(NativeMethods.IoVec* iov, int count, long offset);

    /// <summary>
    /// A direct write from aligned buffers (a gather write; <see cref="WriteDirect(Pwrite, string, byte*, int, long, int, bool, out bool)"/>
    /// is its one-buffer case): every count checked, at most <see cref="PositionalIO.MaxSegments"/> buffers per call,
    /// a partial write continued from where it stopped. <paramref name="iov"/> is consumed.
    /// </summary>
    internal static int WriteGather(Pwritev pwritev, string name, NativeMethods.IoVec* iov, int count, int length, long offset, int alignment,
        bool stopOnEinval, out bool einval)
    {
        einval = false;
        int done = 0;
        while (done < length)
        {
            long n = pwritev(iov, Math.Min(count, PositionalIO.MaxSegments), offset + done);
            if (n == -NativeMethods.EINTR) continue;
            if (n == -NativeMethods.EINVAL && stopOnEinval)
            {
                einval = true;
                return done;
            }
            CheckWritten(n, name, length - done, offset + done);
            done += (int)n;
            if (done < length && done % alignment != 0) return done;
            // Skip the buffers written, and the written part of the one it stopped in.
            while (n > 0 && count > 0)
            {
                long take = Math.Min(n, (long)iov->Length);
                iov->Base += (nint)take;
                iov->Length -= (nuint)take;
                n -= take;
                if (iov->Length == 0)
                {
                    iov++;
                    count--;
                }
            }
        }
        return done;
    }

    /// <summary>fsync on the buffered handle: it covers the file (or device), whichever handle wrote the data.</summary>
    public void Flush() => _file.Flush();

    private void CheckRange(long offset, long length, string what)
    {
        if (offset < 0 || offset > Size - length)
            throw new IOException($"{Name}: refusing to {what} {length} bytes at {offset}: past the end of the device ({Size} bytes)");
    }

    public void Dispose()
    {
        _writers.Dispose();
        _direct.Dispose();
        _bounce.Dispose();
        if (_ownsFile) _file.Dispose();
    }
}
