using System.Text;
using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Review.Analysis;
using TrainGuard.Review.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Review.Rules;

/// <summary>
/// The <c>review</c> rules as a <see cref="RuleFamily"/> whose matcher is the review of one file's change
/// (<see cref="FileReviewer"/>). A sample is the file after the change (a text; path <c>train.py</c>, nothing before) or a
/// mapping <c>{path, before, after, severity}</c>. The two-person rules (signatures, approvals) need a repository and have
/// no matcher here; the review tests cover them on fixture repositories.
/// </summary>
public sealed class ReviewRuleFamily : RuleFamily
{
    private static readonly string[] Fields = ["path", "before", "after", "severity"];

    private readonly ParserChoice _parser;

    /// <param name="rules">The rules (<see cref="ReviewRules.All"/>).</param>
    /// <param name="parser">The parser samples are run through (both are tested).</param>
    public ReviewRuleFamily(IEnumerable<ReviewRule> rules, ParserChoice parser = ParserChoice.Auto)
        : base(ReviewRules.FamilyName, ReviewRules.FamilyTitle, rules) => _parser = parser;

    public override bool HasMatcher(RuleDefinition rule) =>
        rule is ReviewRule review && !review.Detector.StartsWith("two-person", StringComparison.Ordinal);

    public override ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var findings = Run(sample);
        var severity = Severity(sample);
        return ValueTask.FromResult(Expect(expectMatch, RuleSamples.Flags(findings, rule, severity), RuleSamples.Describe(findings)));
    }

    /// <summary>Reviews the change a sample describes and returns its findings.</summary>
    /// <exception cref="MalformedInputException">The sample is neither a text nor a mapping of the known fields (kind <see cref="InputErrorKind.Config"/>).</exception>
    public IReadOnlyList<Finding> Run(string sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var (path, before, after) = Parse(sample);
        using var parser = PythonParsers.Create(_parser, out _);
        using var reviewer = new FileReviewer(parser);
        return reviewer.Review(path, before, after).Findings;
    }

    private static (string Path, byte[]? Before, byte[]? After) Parse(string sample)
    {
        if (!sample.TrimStart().StartsWith('{'))
        {
            return ("train.py", null, Encoding.UTF8.GetBytes(sample));
        }

        var spec = RuleSamples.ParseMapping(sample, ReviewRules.FamilyName, Fields);
        string? Text(string field) => spec[field] switch
        {
            null => null,
            var node when node.GetValueKind() == JsonValueKind.String => node.GetValue<string>(),
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"review sample field '{field}' must be text"),
        };
        var after = Text("after") ?? throw MalformedInputException.Create(InputErrorKind.Config, "a review sample needs 'after'");
        return (Text("path") ?? "train.py", Text("before") is { } b ? Encoding.UTF8.GetBytes(b) : null, Encoding.UTF8.GetBytes(after));
    }

    private static Severity? Severity(string sample) =>
        sample.TrimStart().StartsWith('{') ? RuleSamples.ExpectedSeverity(RuleSamples.ParseMapping(sample, ReviewRules.FamilyName, Fields)) : null;
}
