namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>How a partclone image stores its used-block bitmap (partclone's <c>bitmap_mode_t</c> values).</summary>
public enum PartcloneBitmapMode
{
    /// <summary>No bitmap: every block is in the image.</summary>
    None = 0x00,

    /// <summary>One bit per block, least significant bit first (format 2), followed by its CRC-32.</summary>
    Bit = 0x01,

    /// <summary>One byte per block, 1 = used (format 1), followed by the signature "BiTmAgIc".</summary>
    Byte = 0x08,
}
