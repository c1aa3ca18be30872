using TrainGuard.Rules;

namespace TrainGuard.Review.Rules;

/// <summary>The rules of <c>trainguard review</c>, read from <c>Rules/review.yaml</c>. Guidance pages: <c>docs/rules/TG-REV-0xx.md</c>.</summary>
public static class ReviewRules
{
    public const string FamilyName = "review";

    public const string FamilyTitle = "Contributions to shared training code (`trainguard review`)";

    private const string ResourceName = "TrainGuard.Review.Rules.review.yaml";

    private static readonly RuleYamlSchema Schema = new() { RuleFields = ["detector", "calls", "names", "paths"] };

    /// <summary>Every rule, with its detector's data.</summary>
    public static IReadOnlyList<ReviewRule> All { get; } = Load();

    /// <summary>The rules with their matcher (<see cref="ReviewRuleFamily"/>: the review of one file built from each sample).</summary>
    public static RuleFamily Family { get; } = new ReviewRuleFamily(All);

    public static ReviewRule Get(string id) => All.FirstOrDefault(r => r.Id == id) ?? throw new KeyNotFoundException($"no review rule {id}");

    /// <summary>The rule whose detector is <paramref name="detector"/> (each detector reports one rule, two-person ones aside).</summary>
    public static ReviewRule ByDetector(string detector) => All.First(r => r.Detector == detector);

    public static readonly ReviewRule Unsigned = Get("TG-REV-040");
    public static readonly ReviewRule SignatureInvalid = Get("TG-REV-041");
    public static readonly ReviewRule SignerMismatch = Get("TG-REV-042");
    public static readonly ReviewRule ApprovalMissing = Get("TG-REV-043");
    public static readonly ReviewRule ApprovalInvalid = Get("TG-REV-044");
    public static readonly ReviewRule SelfApproval = Get("TG-REV-045");
    public static readonly ReviewRule Unparsed = Get("TG-REV-050");

    private static ReviewRule[] Load()
    {
        var documents = RuleYaml.ReadEmbedded(typeof(ReviewRules).Assembly, FamilyName, [ResourceName], Schema);
        return documents.SelectMany(d => d.Rules).Select(entry =>
        {
            var detector = YamlFields.String(entry.Fields, "detector", entry.File) ?? throw YamlFields.Invalid(entry.File, null, $"{entry.Where}: 'detector' is required");
            var calls = (YamlFields.Strings(entry.Fields, "calls", entry.File) ?? []).Select(c => new NamePattern(c)).ToArray();
            var names = (IReadOnlyList<string>?)YamlFields.Strings(entry.Fields, "names", entry.File) ?? [];
            var paths = (YamlFields.Strings(entry.Fields, "paths", entry.File) ?? []).Select(p => new PathPattern(p)).ToArray();
            return new ReviewRule(entry.Definition, detector, calls, names, paths);
        }).ToArray();
    }
}
