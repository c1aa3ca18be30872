namespace TrainGuard.Findings;

/// <summary>
/// One thing an analyzer found: which rule, how bad, what and where, and the evidence behind it.
/// Every analyzer (scan, env, ckpt, runs, agent collectors) reports through this one shape.
/// </summary>
public sealed record Finding
{
    /// <summary>Stable rule id, e.g. <c>TG-PKL-001</c>; a guidance page exists at <c>docs/rules/&lt;id&gt;.md</c>.</summary>
    public required string RuleId { get; init; }

    public required Severity Severity { get; init; }

    /// <summary>One sentence saying what was found, e.g. <c>os.system('echo pwned') would run via REDUCE</c>.</summary>
    public required string Message { get; init; }

    public required Location Location { get; init; }

    /// <summary>The verdict this finding implies for the item it was found in.</summary>
    public Verdict Verdict { get; init; } = Verdict.Suspicious;

    /// <summary>Why it matters (one line, from the rule).</summary>
    public string? Why { get; init; }

    /// <summary>What to do about it (from the rule).</summary>
    public string? Guidance { get; init; }

    /// <summary>The import a pickle would perform, <c>module.name</c> (pickle findings).</summary>
    public string? Global { get; init; }

    /// <summary>The call that would run, rendered like Python source (pickle findings).</summary>
    public string? Call { get; init; }

    /// <summary>Free-form evidence: opcode, expected/actual hash, raw line... Keys are lowercase snake case.</summary>
    public IReadOnlyDictionary<string, string>? Evidence { get; init; }
}
