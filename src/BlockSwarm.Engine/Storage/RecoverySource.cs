namespace BlockSwarm.Engine.Storage;

/// <summary>Where the set of pieces already present came from.</summary>
public enum RecoverySource
{
    /// <summary>A valid resume file for this torrent (possibly spot-checked).</summary>
    ResumeFile,

    /// <summary>Every piece of the target was hashed.</summary>
    Rehash,

    /// <summary>A seed source trusted without hashing: every piece present.</summary>
    TrustedSeed,

    /// <summary>Nothing trusted and no re-hash asked for: start empty.</summary>
    Empty,
}
