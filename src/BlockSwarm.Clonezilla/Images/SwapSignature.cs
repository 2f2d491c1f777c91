using System.Buffers.Binary;
using System.Text;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// The page <c>mkswap -U UUID -L LABEL</c> writes at the start of a swap partition, which is all restoredisk writes into
/// one (it saves no swap contents): the first 1024 bytes zeroed (mkswap wipes the boot bits), the version-1 swap header
/// (version, last page, no bad pages, UUID, label), and <c>SWAPSPACE2</c> in the page's last 10 bytes. The rest
/// of the partition is left as it was.
/// </summary>
public static class SwapSignature
{
    /// <summary>mkswap's page: the kernel page size on the machines Clonezilla restores (x86-64, arm64 with 4 KiB pages).</summary>
    public const int PageSize = 4096;

    private const int HeaderOffset = 1024;
    // mkswap copies the label with xstrncpy into the 16-byte field: at most 15 bytes, NUL-terminated.
    private const int LabelLength = 15;

    /// <summary>
    /// The swap page for a partition of <paramref name="partitionLength"/> bytes. A null <paramref name="uuid"/> writes the
    /// nil UUID (mkswap would pick a random one); a label longer than 15 bytes is cut, as mkswap does.
    /// </summary>
    public static byte[] Create(long partitionLength, Guid? uuid, string? label)
    {
        long pages = partitionLength / PageSize;
        if (pages < 10)
            throw new ArgumentOutOfRangeException(nameof(partitionLength), partitionLength, "mkswap needs at least 10 pages");
        var page = new byte[PageSize];
        var h = page.AsSpan(HeaderOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(h, 1);                                       // version
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)Math.Min(pages - 1, uint.MaxValue)); // last_page
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);                                  // nr_badpages
        (uuid ?? Guid.Empty).TryWriteBytes(h.Slice(12, 16), bigEndian: true, out _);        // RFC 4122 byte order
        if (!string.IsNullOrEmpty(label))
        {
            var bytes = Encoding.UTF8.GetBytes(label);
            bytes.AsSpan(0, Math.Min(bytes.Length, LabelLength)).CopyTo(h.Slice(28, LabelLength));
        }
        "SWAPSPACE2"u8.CopyTo(page.AsSpan(PageSize - 10));
        return page;
    }
}
