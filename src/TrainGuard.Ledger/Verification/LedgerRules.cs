using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Ledger.Verification;

/// <summary>The TG-LED rules reported by <c>ledger verify</c> and <c>ledger audit</c>, read from <c>Rules/ledger.yaml</c> (pages in docs/rules/).</summary>
public static class LedgerRules
{
    public const string FamilyName = "ledger";

    public static RuleFamily Family { get; } = RuleFamily.FromEmbeddedYaml(
        FamilyName, "The ledger's own integrity (`trainguard ledger verify/audit`)", typeof(LedgerRules).Assembly,
        "TrainGuard.Ledger.Rules.ledger.yaml");

    public static readonly RuleDefinition HistoryRewritten = Family.Get("TG-LED-001");

    public static readonly RuleDefinition EntryChanged = Family.Get("TG-LED-002");

    public static readonly RuleDefinition EntriesMissing = Family.Get("TG-LED-003");

    public static readonly RuleDefinition CheckpointNotReproduced = Family.Get("TG-LED-004");

    public static readonly RuleDefinition CheckpointInvalid = Family.Get("TG-LED-005");

    public static readonly RuleDefinition UnexpectedEntries = Family.Get("TG-LED-006");

    public static readonly RuleDefinition IndexMismatch = Family.Get("TG-LED-007");

    public static readonly RuleDefinition RolledBack = Family.Get("TG-LED-008");

    public static IReadOnlyList<RuleDescriptor> All => Family.Descriptors;
}
