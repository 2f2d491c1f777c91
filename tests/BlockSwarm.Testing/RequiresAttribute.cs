using System.Reflection;
using Xunit.v3;

namespace BlockSwarm.Testing;

/// <summary>
/// Declares what a test (or every test of a class) needs from the machine: each need becomes a trait
/// (<c>Requires=root</c>, <c>Requires=mkfs.ntfs</c>, … so <c>--filter-trait</c> can select or exclude them), and is
/// checked before the test runs through <see cref="Requires"/> (skip with the reason; under CI=true, fail).
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = true)]
public sealed class RequiresAttribute(params string[] needs) : BeforeAfterTestAttribute, ITraitAttribute
{
    public IReadOnlyList<string> Needs { get; } = needs;

    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() =>
        [.. Needs.Select(n => new KeyValuePair<string, string>("Requires", n))];

    public override void Before(MethodInfo methodUnderTest, IXunitTest test) => Requires.All(Needs);
}
