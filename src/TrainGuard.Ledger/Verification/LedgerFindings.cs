using System.Globalization;
using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Ledger.Verification;

/// <summary>Findings of the TG-LED rules, as <c>ledger verify</c> and <c>ledger audit</c> report them.</summary>
public static class LedgerFindings
{
    /// <summary>A finding of <paramref name="rule"/> at <paramref name="file"/> (and <paramref name="member"/>), with numeric evidence.</summary>
    public static Finding Make(RuleDefinition rule, string message, string file, string? member, params (string Key, long Value)[] evidence) =>
        rule.Finding(message, new Location(file, member), evidence.Length == 0 ? null : evidence.ToDictionary(e => e.Key, e => e.Value.ToString(CultureInfo.InvariantCulture)));
}
