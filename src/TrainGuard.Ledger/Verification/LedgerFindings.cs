using System.Globalization;
using TrainGuard.Findings;

namespace TrainGuard.Ledger.Verification;

/// <summary>Findings of the TG-LED rules, as <c>ledger verify</c> and <c>ledger audit</c> report them.</summary>
public static class LedgerFindings
{
    /// <summary>A finding of <paramref name="rule"/> at <paramref name="file"/> (and <paramref name="member"/>), with numeric evidence.</summary>
    public static Finding Make(RuleDescriptor rule, string message, string file, string? member, params (string Key, long Value)[] evidence) => new()
    {
        RuleId = rule.Id,
        Severity = rule.Severity,
        Message = message,
        Location = new Location(file, member),
        Verdict = rule.Severity >= Severity.High ? Verdict.Malicious : Verdict.Suspicious,
        Why = rule.Why,
        Guidance = rule.Guidance,
        Evidence = evidence.Length == 0 ? null : evidence.ToDictionary(e => e.Key, e => e.Value.ToString(CultureInfo.InvariantCulture)),
    };
}
