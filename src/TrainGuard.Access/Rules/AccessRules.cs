using TrainGuard.Rules;

namespace TrainGuard.Access.Rules;

/// <summary>The rules of <c>trainguard access check</c> (family access, <c>Rules/access.yaml</c>).</summary>
public static class AccessRules
{
    public const string FamilyName = "access";

    public const string FamilyTitle = "Who can write shared assets (`trainguard access`)";

    public static RuleFamily Family { get; } = RuleFamily.FromEmbeddedYaml(FamilyName, FamilyTitle, typeof(AccessRules).Assembly, "TrainGuard.Access.Rules.access.yaml");

    public static readonly RuleDefinition CodeWritable = Family.Get("TG-ACC-001");

    public static readonly RuleDefinition DataWritable = Family.Get("TG-ACC-002");

    public static readonly RuleDefinition WorldWritable = Family.Get("TG-ACC-003");

    public static readonly RuleDefinition NotUnderstood = Family.Get("TG-ACC-010");
}
