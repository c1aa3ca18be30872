using TrainGuard.Findings;
using TrainGuard.Rules;

namespace TrainGuard.Runs;

/// <summary>
/// The TG-RUN rules: what the training client reports (TG-RUN-001 attestation, TG-RUN-010 refused load; docs/runs.md)
/// and what the run detectors find (TG-RUN-101..109; docs/runs-forensics.md), read from <c>Rules/runs.yaml</c> (pages in
/// docs/rules/). The findings are made in the client's events and by the detectors, not from samples, so the family has
/// no matcher: the recorded runs of tests/fixtures/runs are its samples.
/// </summary>
public static class RunRules
{
    public const string FamilyName = "runs";

    public static RuleFamily Family { get; } = RuleFamily.FromEmbeddedYaml(
        FamilyName, "Training runs as they run (`trainguard_client`, `trainguard runs inspect`, the server's run detectors)", typeof(RunRules).Assembly,
        "TrainGuard.Runs.Rules.runs.yaml");
}
