namespace TrainGuard.Server.Cluster;

/// <summary>Timings of several servers on one PostgreSQL database (docs/server.md, "Several servers on PostgreSQL").</summary>
public sealed record ClusterOptions
{
    /// <summary>How often a server tries for the sequencer lock (and the sequencer checks it still holds it): the failover time is about this.</summary>
    public TimeSpan ElectionInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest a server waits without a notification before it looks at the database again.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a batch handed to the sequencer may wait for it before the request is answered 503 (the batch stays staged).</summary>
    public TimeSpan StagedWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Most staged entries the sequencer appends in one transaction.</summary>
    public int DrainEntries { get; init; } = 20_000;

    /// <summary>Most bytes of staged entries the sequencer appends in one transaction.</summary>
    public long DrainBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Results nobody collected (the server that staged them went away) are removed after this.</summary>
    public TimeSpan UnclaimedResults { get; init; } = TimeSpan.FromHours(1);
}
