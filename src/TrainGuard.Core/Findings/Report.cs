namespace TrainGuard.Findings;

/// <summary>The result of one analyzer run: what was analysed and what was found, ready for any writer.</summary>
public sealed record Report
{
    /// <summary>The command that produced it, e.g. <c>scan</c> or <c>env verify</c>.</summary>
    public required string Command { get; init; }

    public required IReadOnlyList<AnalyzedItem> Items { get; init; }

    /// <summary>Descriptions of every rule that can appear in <see cref="Items"/> (SARIF needs them).</summary>
    public IReadOnlyList<RuleDescriptor> Rules { get; init; } = [];

    /// <summary>The JSON property name of <see cref="Items"/>: <c>files</c> for scan, <c>packages</c> for env...</summary>
    public string ItemsName { get; init; } = "files";

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public TimeSpan Elapsed { get; init; }

    /// <summary>What the command reports beside the items (written by every writer), or null.</summary>
    public Output.IReportDetails? Details { get; init; }

    public Verdict Overall => Items.Aggregate(Verdict.Skipped, (acc, item) => acc.Combine(item.Verdict));

    public int Count(Verdict verdict) => Items.Count(i => i.Verdict == verdict);

    /// <summary>
    /// The exit code scripts rely on: 0 clean/skipped, 1 suspicious or malicious (or details that call for it,
    /// such as two checkpoints that differ), 2 any error.
    /// </summary>
    public int ExitCode
    {
        get
        {
            if (Items.Any(i => i.Verdict == Verdict.Error))
            {
                return ExitCodes.Error;
            }

            var fromItems = Items.Any(i => i.Verdict is Verdict.Suspicious or Verdict.Malicious) ? ExitCodes.Findings : ExitCodes.Clean;
            return Math.Max(fromItems, Details?.ExitCode ?? ExitCodes.Clean);
        }
    }
}
