using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Integrity.Environments;

/// <summary>The rules of <c>env verify</c> and <c>env diff</c>, read from <c>Rules/env.yaml</c>. Guidance pages: <c>docs/rules/TG-ENV-0xx.md</c>.</summary>
public static class EnvRules
{
    public const string FamilyName = "env";

    /// <summary>The rules with their matcher (<see cref="EnvRuleFamily"/>: env verify/diff on an environment built from each sample).</summary>
    public static RuleFamily Family { get; } = new EnvRuleFamily(
        RuleYaml.EmbeddedDefinitions(typeof(EnvRules).Assembly, FamilyName, "TrainGuard.Integrity.Rules.env.yaml"));

    public static readonly RuleDefinition FileChanged = Family.Get("TG-ENV-001");

    public static readonly RuleDefinition FileMissing = Family.Get("TG-ENV-002");

    public static readonly RuleDefinition UnlistedFile = Family.Get("TG-ENV-003");

    public static readonly RuleDefinition RecordMalformed = Family.Get("TG-ENV-004");

    public static readonly RuleDefinition Unverifiable = Family.Get("TG-ENV-005");

    public static readonly RuleDefinition PycStale = Family.Get("TG-ENV-006");

    public static readonly RuleDefinition PycCodeMismatch = Family.Get("TG-ENV-007");

    public static readonly RuleDefinition SourcelessPyc = Family.Get("TG-ENV-008");

    public static readonly RuleDefinition PthHook = Family.Get("TG-ENV-009");

    public static readonly RuleDefinition CustomizeModule = Family.Get("TG-ENV-010");

    public static readonly RuleDefinition StartFile = Family.Get("TG-ENV-011");

    public static readonly RuleDefinition Unreadable = Family.Get("TG-ENV-012");

    public static readonly RuleDefinition BaselineChanged = Family.Get("TG-ENV-020");

    public static readonly RuleDefinition BaselineAdded = Family.Get("TG-ENV-021");

    public static readonly RuleDefinition BaselineRemoved = Family.Get("TG-ENV-022");

    public static readonly RuleDefinition BaselineSignature = Family.Get("TG-ENV-023");

    public static IReadOnlyList<RuleDefinition> All => Family.Rules;

    public static IReadOnlyList<RuleDescriptor> Descriptors => Family.Descriptors;
}
