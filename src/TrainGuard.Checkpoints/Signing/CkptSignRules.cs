using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>
/// The rules of <c>ckpt sign/verify</c> (TG-CKP-001..019), read from <c>Rules/ckpt-signing.yaml</c>; each fixes the
/// verdict its findings give the file they are about. Guidance pages: <c>docs/rules/TG-CKP-0xx.md</c>.
/// </summary>
public static class CkptSignRules
{
    public const string FamilyName = "ckpt-signing";

    /// <summary>The rules with their matcher (<see cref="CkptSignRuleFamily"/>: sign, change and verify a checkpoint built from each sample).</summary>
    public static RuleFamily Family { get; } = new CkptSignRuleFamily(
        RuleYaml.EmbeddedDefinitions(typeof(CkptSignRules).Assembly, FamilyName, "TrainGuard.Checkpoints.Rules.ckpt-signing.yaml"));

    public static readonly RuleDefinition FileChanged = Family.Get("TG-CKP-001");

    public static readonly RuleDefinition FileAdded = Family.Get("TG-CKP-002");

    public static readonly RuleDefinition FileDeleted = Family.Get("TG-CKP-003");

    public static readonly RuleDefinition SignatureInvalid = Family.Get("TG-CKP-004");

    public static readonly RuleDefinition Unverifiable = Family.Get("TG-CKP-005");

    public static readonly RuleDefinition LedgerRecordMissing = Family.Get("TG-CKP-006");

    public static readonly RuleDefinition LedgerRecordMismatch = Family.Get("TG-CKP-007");

    public static readonly RuleDefinition LedgerProofInvalid = Family.Get("TG-CKP-008");

    public static readonly RuleDefinition LedgerUnavailable = Family.Get("TG-CKP-009");

    public static IReadOnlyList<RuleDefinition> All => Family.Rules;

    public static IReadOnlyList<RuleDescriptor> Descriptors => Family.Descriptors;
}
