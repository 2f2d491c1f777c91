using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

/// <summary>
/// Several files mapped into one address space: file i holds addresses
/// [Start, Start + Length). Used for plain multi-file torrents (address = piece-stream
/// offset) and partclone <c>-T</c> directories (address = device offset, gaps between
/// runs are never read). I/O that crosses a file boundary is split per file.
/// </summary>
public sealed class FileSetBlockDevice : IBlockDevice
{
    private readonly Member[] _members;
    private readonly long[] _starts;

    /// <summary>One file of the set. The handle is owned (disposed) by the set.</summary>
    public sealed record Member(long Start, long Length, string Path, SafeFileHandle Handle)
    {
        public long End => Start + Length;
    }

    public FileSetBlockDevice(string name, IReadOnlyList<Member> members, bool canWrite)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = members.Where(m => m.Length > 0).OrderBy(m => m.Start).ToArray();
        for (int i = 1; i < _members.Length; i++)
            if (_members[i].Start < _members[i - 1].End)
                throw new ArgumentException($"files '{_members[i - 1].Path}' and '{_members[i].Path}' overlap", nameof(members));
        _starts = _members.Select(m => m.Start).ToArray();
        Name = name;
        CanWrite = canWrite;
        Size = _members.Length == 0 ? 0 : _members[^1].End;
        AllMembers = members;
    }

    public string Name { get; }
    public long Size { get; }
    public bool CanWrite { get; }
    public IReadOnlyList<Member> AllMembers { get; }

    public void Read(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        long total = PositionalIO.TotalLength(buffers);
        long done = 0;
        while (done < total)
        {
            var m = Find(offset + done, "read");
            long n = Math.Min(total - done, m.End - (offset + done));
            var part = n == total ? buffers : PositionalIO.Range(buffers, done, n);
            PositionalIO.ReadExactly(m.Handle, m.Path, offset + done - m.Start, part);
            done += n;
        }
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        if (!CanWrite) throw new InvalidOperationException($"{Name} is read-only");
        long total = PositionalIO.TotalLength(buffers);
        long done = 0;
        while (done < total)
        {
            var m = Find(offset + done, "write");
            long n = Math.Min(total - done, m.End - (offset + done));
            var part = n == total ? buffers : PositionalIO.Range(buffers, done, n);
            PositionalIO.WriteAll(m.Handle, offset + done - m.Start, part);
            done += n;
        }
    }

    public void Flush()
    {
        if (!CanWrite) return;
        foreach (var m in _members)
        {
            NativeMethods.Fsync(m.Handle, m.Path);
        }
    }

    private Member Find(long address, string what)
    {
        int i = Array.BinarySearch(_starts, address);
        if (i < 0) i = ~i - 1;
        if (i < 0 || address >= _members[i].End)
            throw new IOException($"{Name}: {what} at address {address} falls outside every file");
        return _members[i];
    }

    public void Dispose()
    {
        foreach (var m in AllMembers) m.Handle.Dispose();
    }
}
