using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// The scanning rules (<c>src/TrainGuard.Scanning/Rules/*.yaml</c>) as a <see cref="RuleFamily"/>, with their matchers:
/// a global rule's samples are <c>module.name</c> strings classified by the catalogue and evaluated by the policy;
/// a pickle rule's samples are <see cref="AnalysisScript"/>s evaluated by the policy; a format rule's samples are
/// parser error kind names (<c>over_limit</c>) classified by the catalogue. A format rule the scanner reports from its
/// own structural checks maps no error kind, so its matcher can only show what it does not match.
/// </summary>
public sealed class ScanRuleFamily : RuleFamily
{
    private static readonly Lazy<ScanRuleFamily> LazyDefault = new(() => new ScanRuleFamily(RuleCatalog.Default), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly RuleCatalog _catalog;

    public ScanRuleFamily(RuleCatalog catalog)
        : base(RuleCatalog.Family, "Pickle and model-file scanning (`trainguard scan`)", catalog?.All ?? throw new ArgumentNullException(nameof(catalog))) =>
        _catalog = catalog;

    /// <summary>The family of the embedded catalogue.</summary>
    public static ScanRuleFamily Default => LazyDefault.Value;

    public override bool HasMatcher(RuleDefinition rule) => rule is Rule;

    public override bool MatcherCanReport(RuleDefinition rule) => rule is Rule { Kind: not RuleKind.Format } or Rule { ErrorKinds.Count: > 0 };

    public override ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        var scanRule = rule as Rule ?? throw new ArgumentException($"{rule?.Id} is not a scanning rule", nameof(rule));
        return ValueTask.FromResult(expectMatch ? Check(scanRule, sample) : CheckNot(scanRule, sample));
    }

    private string? Check(Rule rule, string sample)
    {
        switch (rule.Kind)
        {
            case RuleKind.Global:
            {
                var matched = _catalog.MatchGlobal(sample);
                if (matched?.Id != rule.Id)
                {
                    return $"classified as {matched?.Id ?? "no rule"}";
                }

                var findings = Evaluate($"import {sample}");
                return findings.Any(f => f.RuleId == rule.Id && f.Verdict == rule.Verdict && f.Severity == rule.Severity)
                    ? null
                    : $"policy gave [{Describe(findings)}]";
            }

            case RuleKind.Pickle:
            {
                var findings = Evaluate(sample);
                return findings.Any(f => f.RuleId == rule.Id && f.Verdict == rule.Verdict)
                    ? null
                    : $"policy gave [{Describe(findings)}]";
            }

            default:
            {
                if (!RuleCatalog.TryParseErrorKind(sample, out var kind))
                {
                    return "not an error kind name";
                }

                var classified = _catalog.ClassifyError(kind);
                return classified.Id == rule.Id ? null : $"classified as {classified.Id}";
            }
        }
    }

    private string? CheckNot(Rule rule, string sample)
    {
        switch (rule.Kind)
        {
            case RuleKind.Global:
            {
                if (_catalog.MatchGlobal(sample)?.Id == rule.Id)
                {
                    return "classified as this rule";
                }

                var findings = Evaluate($"import {sample}");
                return findings.Any(f => f.RuleId == rule.Id) ? $"policy gave [{Describe(findings)}]" : null;
            }

            case RuleKind.Pickle:
            {
                var findings = Evaluate(sample);
                return findings.Any(f => f.RuleId == rule.Id) ? $"policy gave [{Describe(findings)}]" : null;
            }

            default:
                return !RuleCatalog.TryParseErrorKind(sample, out var kind) ? "not an error kind name"
                    : _catalog.ClassifyError(kind).Id == rule.Id ? "classified as this rule"
                    : null;
        }
    }

    private IReadOnlyList<Finding> Evaluate(string script)
    {
        var parsed = AnalysisScript.Parse(script);
        return new PicklePolicy(_catalog, parsed.Options).Evaluate(parsed.Analysis, "sample.pkl", null);
    }

    private static string Describe(IEnumerable<Finding> findings) =>
        string.Join("; ", findings.Select(f => $"{f.RuleId} {f.Verdict.ToWireName()}: {f.Message}"));
}
