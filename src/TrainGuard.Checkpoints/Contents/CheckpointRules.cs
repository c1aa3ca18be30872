using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>
/// The rules of <c>ckpt inspect</c> and <c>ckpt check</c> (TG-CKP-020..039), read from <c>Rules/ckpt-content.yaml</c>.
/// Guidance pages: <c>docs/rules/TG-CKP-0xx.md</c>.
/// </summary>
public static class CheckpointRules
{
    public const string FamilyName = "ckpt-content";

    /// <summary>The rules with their matcher (<see cref="CheckpointRuleFamily"/>: the run checker and the reader on each sample).</summary>
    public static RuleFamily Family { get; } = new CheckpointRuleFamily(
        RuleYaml.EmbeddedDefinitions(typeof(CheckpointRules).Assembly, FamilyName, "TrainGuard.Checkpoints.Rules.ckpt-content.yaml"));

    public static readonly RuleDefinition Maximize = Family.Get("TG-CKP-020");

    public static readonly RuleDefinition LearningRate = Family.Get("TG-CKP-021");

    public static readonly RuleDefinition Hyperparameter = Family.Get("TG-CKP-022");

    public static readonly RuleDefinition OptimizerClass = Family.Get("TG-CKP-023");

    public static readonly RuleDefinition SeedMismatch = Family.Get("TG-CKP-024");

    public static readonly RuleDefinition RngForged = Family.Get("TG-CKP-025");

    public static readonly RuleDefinition SeedUnconfirmed = Family.Get("TG-CKP-026");

    public static readonly RuleDefinition StepMismatch = Family.Get("TG-CKP-027");

    public static readonly RuleDefinition WorldSize = Family.Get("TG-CKP-028");

    public static readonly RuleDefinition FileMissing = Family.Get("TG-CKP-029");

    public static readonly RuleDefinition Scheduler = Family.Get("TG-CKP-030");

    public static readonly RuleDefinition MaxSteps = Family.Get("TG-CKP-031");

    public static readonly RuleDefinition Unreadable = Family.Get("TG-CKP-032");

    public static readonly RuleDefinition Refused = Family.Get("TG-CKP-033");

    public static IReadOnlyList<RuleDefinition> All => Family.Rules;

    public static IReadOnlyList<RuleDescriptor> Descriptors => Family.Descriptors;
}
