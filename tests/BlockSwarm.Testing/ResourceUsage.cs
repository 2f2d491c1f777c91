namespace BlockSwarm.Testing;

/// <summary>What the kernel's rusage says a program used, as GNU time reported it at exit (<see cref="ProcessSpec.MeasureUsage"/>).</summary>
public readonly record struct ResourceUsage(double UserSeconds, double SystemSeconds, long PeakRssBytes)
{
    public double CpuSeconds => UserSeconds + SystemSeconds;
}
