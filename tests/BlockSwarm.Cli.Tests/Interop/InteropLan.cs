using System.Diagnostics;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// Two <see cref="InteropNetwork"/> namespaces cabled together with a veth pair (<c>eth0</c> at both
/// ends) on a private /24 that exists only inside them: for clients that refuse peers on 127.0.0.0/8
/// (Transmission does). Nothing on the host's network changes; disposing deletes both namespaces (and
/// with them the veth pair), whatever happened before.
/// </summary>
internal sealed class InteropLan : IDisposable
{
    /// <summary>The /24 both ends live on; any private range will do, as it is never routed outside the pair.</summary>
    public const string Subnet = "10.213.77";

    private static readonly Lazy<string?> s_probe = new(Probe);

    private InteropLan(InteropNetwork ours, InteropNetwork theirs)
    {
        Ours = ours;
        Theirs = theirs;
    }

    /// <summary>BlockSwarm's side, <see cref="OurIp"/>.</summary>
    public InteropNetwork Ours { get; }

    /// <summary>The other client's side, <see cref="TheirIp"/>.</summary>
    public InteropNetwork Theirs { get; }

    public static string OurIp => Subnet + ".1";
    public static string TheirIp => Subnet + ".2";

    /// <summary>Why two namespaces with a veth pair cannot be made here (not root, no ip, no veth support), or null.</summary>
    public static string? Unavailable(params string[] tools) => InteropNetwork.Unavailable(tools) ?? s_probe.Value;

    public static InteropLan Create(ITestOutputHelper log)
    {
        var clock = Stopwatch.StartNew();
        var ours = InteropNetwork.Create(log, InteropNetwork.NewName("a"), clock);
        InteropNetwork? theirs = null;
        try
        {
            theirs = InteropNetwork.Create(log, InteropNetwork.NewName("b"), clock);
            Cable(ours.Name, theirs.Name);
            return new InteropLan(ours, theirs);
        }
        catch
        {
            theirs?.Dispose();
            ours.Dispose();
            throw;
        }
    }

    private static void Cable(string a, string b)
    {
        Tool.Run("ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "eth0", "netns", b);
        Tool.Run("ip", "-n", a, "addr", "add", OurIp + "/24", "dev", "eth0");
        Tool.Run("ip", "-n", b, "addr", "add", TheirIp + "/24", "dev", "eth0");
        Tool.Run("ip", "-n", a, "link", "set", "eth0", "up");
        Tool.Run("ip", "-n", b, "link", "set", "eth0", "up");
    }

    /// <summary>Makes and deletes a throw-away pair once: a container may be root yet lack netns or veth.</summary>
    private static string? Probe()
    {
        string a = InteropNetwork.NewName("probe-a"), b = InteropNetwork.NewName("probe-b");
        try
        {
            Tool.Run("ip", "netns", "add", a);
            Tool.Run("ip", "netns", "add", b);
            Cable(a, b);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return "cannot make network namespaces joined by a veth pair here: " + ex.Message.ReplaceLineEndings(" ");
        }
        finally
        {
            Tool.Run("ip", ["netns", "delete", b], check: false);
            Tool.Run("ip", ["netns", "delete", a], check: false);
        }
    }

    public void Dispose()
    {
        try
        {
            Theirs.Dispose();
        }
        finally
        {
            Ours.Dispose();
        }
    }
}
