namespace BlockSwarm.Testing;

/// <summary>One machine of a <see cref="SwitchedLan"/>: a namespace whose <c>eth0</c> is cabled to the switch's <paramref name="SwitchPort"/>.</summary>
public sealed record LanHost(string Label, NetworkNamespace Namespace, string Ip, string SwitchPort);
