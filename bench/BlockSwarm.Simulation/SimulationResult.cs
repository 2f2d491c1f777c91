namespace BlockSwarm.Simulation;

/// <summary>Bytes one access switch's uplink carried, in units of F.</summary>
public sealed record UplinkLoad(int Switch, double Up, double Down);

/// <summary>What one simulated deployment measured.</summary>
public sealed record SimulationResult
{
    public required SimulationOptions Options { get; init; }

    /// <summary>When each client had every piece (seconds from launch); null = never (vanished, or the run gave up).</summary>
    public required double?[] CompletedAt { get; init; }

    /// <summary>Clients that vanished on purpose (<see cref="SimulationOptions.VanishFraction"/>).</summary>
    public required bool[] Vanished { get; init; }

    /// <summary>T: until the last client still there completed (seconds); NaN when one never did.</summary>
    public required double T { get; init; }

    /// <summary>F/c: the image over one client's cable rate (seconds), the floor for any N on equal links.</summary>
    public required double Floor { get; init; }

    public double TOverFloor => T / Floor;

    /// <summary>Payload the origin sent, in units of F.</summary>
    public required double OriginCopies { get; init; }

    /// <summary>Payload every client sent, in units of F.</summary>
    public required double PeerCopies { get; init; }

    public required IReadOnlyList<UplinkLoad> Uplinks { get; init; }

    public required int PieceLength { get; init; }

    public required int Steps { get; init; }

    /// <summary>Wall-clock seconds the simulation took.</summary>
    public required double WallSeconds { get; init; }

    /// <summary>Fraction of the clients complete at each second of the run (index = second).</summary>
    public required double[] CompleteBySecond { get; init; }

    /// <summary>Per second: payload the clients still downloading received ÷ what their cables carry (1 = line rate).</summary>
    public required double[] UtilisationBySecond { get; init; }

    /// <summary>Per second: the origin's payload sent ÷ its cable's payload rate.</summary>
    public required double[] OriginRateBySecond { get; init; }

    /// <summary>When the origin had sent every piece at least once (seconds); NaN = never, or no origin policy.</summary>
    public required double OriginSentAllAt { get; init; }

    public bool AllCompleted => !double.IsNaN(T);

    /// <summary>
    /// The clients' mean link utilisation (<see cref="UtilisationBySecond"/>) over the whole seconds from the first to the
    /// one in which the origin had sent every piece once; null when that never happened or took under two seconds.
    /// </summary>
    public double? LinksUsedUntilOriginSentAll()
    {
        if (double.IsNaN(OriginSentAllAt)) return null;
        int end = Math.Min(UtilisationBySecond.Length, (int)OriginSentAllAt);
        return end < 2 ? null : UtilisationBySecond.Skip(1).Take(end - 1).Average();
    }
}
