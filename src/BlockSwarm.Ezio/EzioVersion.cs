namespace BlockSwarm.Ezio;

/// <summary>What the daemon says it is: the EZIO release whose command line and API it answers, and that it is BlockSwarm.</summary>
public static class EzioVersion
{
    /// <summary>The EZIO release whose command line and gRPC API the daemon implements.</summary>
    public const string Compatible = "v2.0.29";

    /// <summary>
    /// GetVersion's answer and <c>-v</c>'s: EZIO reports <c>git describe</c> (<c>v2.0.29</c>); a suffix in the same form
    /// says this is BlockSwarm, while a script reading the leading version still sees the API level it talks to.
    /// </summary>
    public const string Text = Compatible + "-blockswarm";
}
