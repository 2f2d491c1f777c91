using BlockSwarm.Devices;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>
/// One ext4 partition saved by partclone, shared by a test class: made on first use inside a test (after its
/// [Requires] checks ran, so a missing tool skips instead of failing the fixture), removed with the class.
/// </summary>
public sealed class SavedExt4Image : IDisposable
{
    private readonly Lazy<(TempDirectory Dir, string Device, string Image, Extent[] Extents)> _made = new(() =>
    {
        var dir = new TempDirectory("pc-saved");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"), seed: 11);
        var image = PartcloneRig.Save(device, "extfs", dir.File("ext4.pc"));
        return (dir, device, image, PartcloneRig.PartcloneExtents(image, "extfs"));
    });

    /// <summary>The partition (an image file).</summary>
    public string Device => _made.Value.Device;

    /// <summary>partclone's format-2 image of it, uncompressed.</summary>
    public string Image => _made.Value.Image;

    /// <summary>partclone's own used extents of the image, merged.</summary>
    public IReadOnlyList<Extent> PartcloneExtents => _made.Value.Extents;

    public void Dispose()
    {
        if (_made.IsValueCreated) _made.Value.Dir.Dispose();
    }
}
