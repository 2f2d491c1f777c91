namespace BlockSwarm.Deploy.Api;

/// <summary>
/// How <c>/api/job</c> is signed: <see cref="Security.SignedMessage"/> over the body's exact bytes for the purpose
/// <c>job</c> (the signed bytes are <c>BlockSwarm job v1\n</c> + the body), the key and signature in the
/// <c>BlockSwarm-Key</c> and <c>BlockSwarm-Signature</c> response headers.
/// </summary>
public static class JobSignature
{
    public const string Purpose = "job";
}
