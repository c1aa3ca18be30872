using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>A rule as data: its descriptor (id, name, severity, why, guidance).</summary>
public sealed record CheckpointRule(RuleDescriptor Descriptor)
{
    public string Id => Descriptor.Id;

    public Finding Create(string message, Location location, IReadOnlyDictionary<string, string>? evidence = null, Severity? severity = null, Verdict? verdict = null)
    {
        var s = severity ?? Descriptor.Severity;
        return new Finding
        {
            RuleId = Descriptor.Id,
            Severity = s,
            Message = message,
            Location = location,
            Verdict = verdict ?? CheckpointRules.VerdictFor(s),
            Why = Descriptor.Why,
            Guidance = Descriptor.Guidance,
            Evidence = evidence,
        };
    }
}

/// <summary>The rules of <c>ckpt inspect</c> and <c>ckpt check</c>. Guidance pages: <c>docs/rules/TG-CKP-0xx.md</c>.</summary>
public static class CheckpointRules
{
    public static readonly CheckpointRule Maximize = new(new RuleDescriptor("TG-CKP-020", "optimizer-maximize", Severity.Critical,
        "An optimizer param group has maximize=True: every update goes uphill, so training diverges while looking like an ordinary run; in optimizer.pt it is one byte.",
        "Do not resume from this checkpoint. Restore optimizer.pt from a verified copy (trainguard ckpt verify), find who wrote it, and check every checkpoint the same account could write."));

    public static readonly CheckpointRule LearningRate = new(new RuleDescriptor("TG-CKP-021", "learning-rate-changed", Severity.High,
        "The learning rate saved in the optimizer or scheduler differs from what the run declares or from what its schedule gives at this step; a changed learning rate silently ruins or stalls a run.",
        "Compare with a verified copy of the checkpoint (trainguard ckpt diff); if nobody changed the run on purpose, restore the files and investigate who wrote them."));

    public static readonly CheckpointRule Hyperparameter = new(new RuleDescriptor("TG-CKP-022", "optimizer-hyperparameter-changed", Severity.High,
        "An optimizer hyperparameter (betas, eps, weight decay, amsgrad, momentum...) differs from what the run declares.",
        "Check the training code and the run manifest; if neither changed, treat optimizer.pt as tampered and restore it from a verified copy."));

    public static readonly CheckpointRule OptimizerClass = new(new RuleDescriptor("TG-CKP-023", "optimizer-class-mismatch", Severity.High,
        "The optimizer state has the keys of another optimizer class than the run declares: the checkpoint was not written by this run's optimizer.",
        "Find which code wrote the checkpoint (the training script, the installed torch: trainguard env verify) and restore the checkpoint from a verified copy."));

    public static readonly CheckpointRule SeedMismatch = new(new RuleDescriptor("TG-CKP-024", "rng-seed-mismatch", Severity.High,
        "A saved random-generator state comes from another seed than the run declares: a resumed run draws different data order, dropout and augmentation, and results stop being reproducible.",
        "Check the seed in the training code and the run manifest; if they agree, rng_state*.pth was replaced: restore it from a verified copy and find who wrote it."));

    public static readonly CheckpointRule RngForged = new(new RuleDescriptor("TG-CKP-025", "rng-state-forged", Severity.Critical,
        "A torch generator state contradicts itself (its seed field names another seed than its state words come from, or its position fields disagree); torch never writes such a state, so it was edited.",
        "Treat rng_state*.pth as tampered: restore it from a verified copy and investigate who wrote it."));

    public static readonly CheckpointRule SeedUnconfirmed = new(new RuleDescriptor("TG-CKP-026", "rng-seed-unconfirmed", Severity.Info,
        "A generator state could not be traced back to any seeding within the search bound (it has drawn more numbers than the bound), so its seed is neither confirmed nor refuted.",
        "Raise the bound with --rng-max-twists if the run draws that many numbers, or compare rng_state*.pth with a verified copy (trainguard ckpt diff)."));

    public static readonly CheckpointRule StepMismatch = new(new RuleDescriptor("TG-CKP-027", "step-count-mismatch", Severity.High,
        "The step counts of the checkpoint disagree (optimizer state step, scheduler last_epoch, trainer_state.json global_step, the N of checkpoint-N): one of the files was replaced or edited, so a resume mixes states from different points of training.",
        "Find the odd file out (the message names it), restore it from a verified copy of the same checkpoint and investigate who wrote it."));

    public static readonly CheckpointRule WorldSize = new(new RuleDescriptor("TG-CKP-028", "world-size-mismatch", Severity.High,
        "The checkpoint was written by a different number of training processes than the run declares (one rng_state_<rank>.pth per process); sabotage triggered only at some world sizes shows up here.",
        "Check the launcher configuration of the run that wrote the checkpoint; if it should match, find out who ran it."));

    public static readonly CheckpointRule FileMissing = new(new RuleDescriptor("TG-CKP-029", "required-file-missing", Severity.High,
        "A file the run needs is missing from the checkpoint; the Hugging Face Trainer silently resumes without optimizer.pt or scheduler.pt (fresh optimizer state, restarted schedule), and deleted checkpoints make results unreproducible.",
        "Restore the file from a verified copy (trainguard ckpt verify names every deleted file) and find who deleted it."));

    public static readonly CheckpointRule Scheduler = new(new RuleDescriptor("TG-CKP-030", "scheduler-mismatch", Severity.Medium,
        "The learning-rate scheduler differs from what the run declares (class or schedule).",
        "Check the training code and the run manifest; if neither changed, restore scheduler.pt from a verified copy."));

    public static readonly CheckpointRule MaxSteps = new(new RuleDescriptor("TG-CKP-031", "max-steps-mismatch", Severity.Medium,
        "trainer_state.json gives another total number of steps than the run declares, or the checkpoint is past it: the schedule the run follows is not the declared one.",
        "Check the run's arguments (max_steps, epochs); restore trainer_state.json from a verified copy if nobody changed them."));

    public static readonly CheckpointRule Unreadable = new(new RuleDescriptor("TG-CKP-032", "checkpoint-file-unreadable", Severity.High,
        "A checkpoint file could not be read (malformed, truncated, over a limit, or not the structure its role needs), so nothing in it can be vouched for.",
        "Run trainguard scan on the file; if the file should be valid, compare it with a verified copy."));

    public static readonly CheckpointRule Refused = new(new RuleDescriptor("TG-CKP-033", "refused-by-scanner", Severity.High,
        "The artifact scanner flagged the file (a pickle importing or calling something a checkpoint does not need), so its contents were not interpreted: torch.load would run what the scanner found.",
        "Read the scanner's findings (trainguard scan FILE); do not load the file with torch.load. Restore it from a verified copy and investigate who wrote it."));

    public static IReadOnlyList<CheckpointRule> All { get; } =
    [
        Maximize, LearningRate, Hyperparameter, OptimizerClass, SeedMismatch, RngForged, SeedUnconfirmed, StepMismatch,
        WorldSize, FileMissing, Scheduler, MaxSteps, Unreadable, Refused,
    ];

    public static IReadOnlyList<RuleDescriptor> Descriptors { get; } = All.Select(r => r.Descriptor).ToList();

    /// <summary>Critical is malicious, high and medium suspicious, low and info leave the checkpoint clean.</summary>
    public static Verdict VerdictFor(Severity severity) => severity switch
    {
        Severity.Critical => Verdict.Malicious,
        Severity.High or Severity.Medium => Verdict.Suspicious,
        _ => Verdict.Clean,
    };
}
