namespace BlockSwarm.Fuzz;

/// <summary>
/// One fuzzing target: <see cref="Run"/> feeds an input to the code under test and returns
/// true when it was accepted, false when it was rejected with the documented exception type.
/// Any other exception escaping <see cref="Run"/> (including <see cref="FuzzInvariantException"/>)
/// is a crash.
/// </summary>
public sealed record FuzzTarget(string Name, string Description, Func<byte[], bool> Run);
