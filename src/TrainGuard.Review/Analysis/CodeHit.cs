using TrainGuard.Findings;
using TrainGuard.Review.Rules;

namespace TrainGuard.Review.Analysis;

/// <summary>
/// What the analyzer found in one version of a file: a rule, the line, the code (<see cref="Subject"/>, which matches a hit
/// before and after a change whatever its line) and a message. Safeguards (<see cref="IsSafeguard"/>) are facts whose
/// disappearance is the finding.
/// </summary>
public sealed record CodeHit(ReviewRule Rule, int Line, string Subject, string Message, Severity Severity, bool IsSafeguard = false)
{
    /// <summary>What a before/after comparison counts: the rule, the severity and the code, not the line.</summary>
    public string Key => $"{Rule.Id}\n{Severity}\n{Subject}";
}
