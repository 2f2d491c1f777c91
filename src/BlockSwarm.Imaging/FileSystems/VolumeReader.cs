using BlockSwarm.Devices;
namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// Positional reads inside one volume of a device for the scanners: every read is bounds-checked
/// against the volume, a short read (truncated image) becomes a <see cref="BlockMapException"/>
/// that tells the operator what to do, and the bytes read are counted for benchmarks.
/// </summary>
internal sealed class VolumeReader
{
    private readonly DeviceFile _device;
    private readonly long _volumeOffset;
    private readonly string _fsName;

    public VolumeReader(DeviceFile device, long volumeOffset, long volumeLength, string fsName)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (volumeOffset < 0 || volumeLength <= 0)
            throw new BlockMapException($"{fsName}: invalid volume range offset {volumeOffset}, length {volumeLength}");
        if (volumeOffset > device.Size || volumeLength > device.Size - volumeOffset)
            throw new BlockMapException(
                $"{fsName}: the volume [{volumeOffset}, +{volumeLength}) extends past the end of {device.Path} ({device.Size} bytes); the image looks truncated, try --map nonzero");
        _device = device;
        _volumeOffset = volumeOffset;
        VolumeLength = volumeLength;
        _fsName = fsName;
    }

    public long VolumeLength { get; }

    /// <summary>Bytes read from the device so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Reads <c>buffer.Length</c> bytes at a volume-relative offset; <paramref name="what"/> names the structure for error messages.</summary>
    public void Read(long offset, Span<byte> buffer, string what)
    {
        if (offset < 0 || offset > VolumeLength || buffer.Length > VolumeLength - offset)
            throw Corrupt($"{what} at byte {offset} (+{buffer.Length}) lies outside the volume ({VolumeLength} bytes)");
        try
        {
            _device.ReadExactly(_volumeOffset + offset, buffer);
        }
        catch (EndOfStreamException ex)
        {
            throw new BlockMapException(
                $"{_fsName}: cannot read {what} at byte {offset}: the device ends early ({ex.Message}); the image looks truncated, try --map nonzero", ex);
        }
        BytesRead += buffer.Length;
    }

    /// <summary>An exception for inconsistent metadata, naming the filesystem and suggesting the fallback.</summary>
    public BlockMapException Corrupt(string problem) => Corrupt(_fsName, problem);

    public static BlockMapException Corrupt(string fsName, string problem) =>
        new($"{fsName}: {problem}; the filesystem looks corrupt or truncated, run its checker or use --map nonzero");
}
