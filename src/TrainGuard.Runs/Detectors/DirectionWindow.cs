namespace TrainGuard.Runs.Detectors;

/// <summary>The direction detector's count over one window of step numbers (all ranks).</summary>
internal sealed class DirectionWindow(long index)
{
    public long Index { get; } = index;

    public long Samples { get; private set; }

    public long Negatives { get; private set; }

    public long FirstNegative { get; private set; } = long.MaxValue;

    public long LastNegative { get; private set; } = long.MinValue;

    public double Lowest { get; private set; } = double.PositiveInfinity;

    /// <summary>The one rank all negatives came from, -1 before any, -2 when several.</summary>
    public int Rank { get; private set; } = -1;

    public DateTimeOffset? LastTime { get; private set; }

    /// <summary>The one rank all negatives came from, or null.</summary>
    public int? OnlyRank => Rank >= 0 ? Rank : null;

    /// <summary>Where the negatives came from, for messages: "rank N" or "several ranks".</summary>
    public string Where => OnlyRank is { } rank ? $"rank {rank}" : "several ranks";

    /// <summary>Live: negatives already reported before the window closed (0 when none was).</summary>
    public long ReportedNegatives { get; set; }

    /// <summary>Live: the window was reported critical before it closed.</summary>
    public bool ReportedCritical { get; set; }

    public void Add(long step, int rank, double cosine, DateTimeOffset? time)
    {
        Samples++;
        LastTime = time ?? LastTime;
        // NaN is not a direction: a non-finite cosine is counted as sampled, not as flipped.
        if (!(cosine < 0))
        {
            return;
        }

        Negatives++;
        FirstNegative = Math.Min(FirstNegative, step);
        LastNegative = Math.Max(LastNegative, step);
        Lowest = Math.Min(Lowest, cosine);
        Rank = Rank == -1 || Rank == rank ? rank : -2;
    }
}
