namespace BlockSwarm.Testing;

/// <summary>
/// One Clonezilla image made by Clonezilla itself (<see cref="ClonezillaFixture"/>), with the disk it was saved from
/// and what Clonezilla's own restore wrote: all files, cached under /tmp, never to be changed by a test.
/// </summary>
/// <param name="Kind">What the disk holds and how it was saved.</param>
/// <param name="ImageDirectory">The image directory <c>ocs-sr savedisk</c> wrote (disk, parts, pt.sf, partclone images…).</param>
/// <param name="DiskName">The disk's name inside the image (<c>loopN</c>: the loop device it was saved from).</param>
/// <param name="SourceDisk">The disk image file the image was saved from.</param>
/// <param name="RestoredDisk">
/// A disk image file first filled with <see cref="ClonezillaFixture.FillByte"/>, then restored by
/// <c>ocs-sr restoredisk</c> with its after-restore changes off: every byte that still reads FillByte was not written.
/// </param>
/// <param name="SfdiskJson">The source disk's partition table as <c>sfdisk -J</c> printed it.</param>
/// <param name="Content">The file tree copied into each file system.</param>
/// <param name="Timings">How long each step took when the fixture was made (read back from the cache later).</param>
public sealed record ClonezillaFixtureImage(
    ClonezillaFixtureKind Kind,
    string ImageDirectory,
    string DiskName,
    string SourceDisk,
    string RestoredDisk,
    string SfdiskJson,
    string Content,
    IReadOnlyList<string> Timings);
