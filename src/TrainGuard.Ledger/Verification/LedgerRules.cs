using TrainGuard.Findings;

namespace TrainGuard.Ledger.Verification;

/// <summary>The TG-LED rules reported by <c>ledger verify</c> and <c>ledger audit</c> (pages in docs/rules/).</summary>
public static class LedgerRules
{
    public static readonly RuleDescriptor HistoryRewritten = new(
        "TG-LED-001", "ledger-history-rewritten", Severity.Critical,
        "The log's current checkpoint does not extend an older checkpoint it signed: entries were changed or removed.",
        "Keep both signed checkpoints as evidence; stop trusting the server; restore the database from a copy that matches the old checkpoint and run 'trainguard ledger audit'.");

    public static readonly RuleDescriptor EntryChanged = new(
        "TG-LED-002", "ledger-entry-changed", Severity.Critical,
        "A stored entry no longer hashes to its recorded leaf hash: the row was edited in the database.",
        "Preserve the database; compare the row with backups and the tile entry bundles witnesses mirrored; find who had write access to the database.");

    public static readonly RuleDescriptor EntriesMissing = new(
        "TG-LED-003", "ledger-entries-missing", Severity.Critical,
        "Ledger rows inside the committed tree are missing: events were deleted from the database.",
        "Preserve the database; restore the rows from a backup or mirrored tile entry bundles; find who had write access to the database.");

    public static readonly RuleDescriptor CheckpointNotReproduced = new(
        "TG-LED-004", "ledger-checkpoint-not-reproduced", Severity.Critical,
        "The stored entries no longer rebuild the root of a checkpoint the log signed: history was rewritten (possibly with recomputed leaf hashes).",
        "The entries between the last matching checkpoint and this one were changed; treat the events there as suspect and restore them from a copy.");

    public static readonly RuleDescriptor CheckpointInvalid = new(
        "TG-LED-005", "ledger-checkpoint-invalid", Severity.High,
        "A checkpoint is not validly signed by the log key, is malformed, or its stored columns disagree with its signed text.",
        "Check that the right verifier key was given; a forged or altered checkpoint row means someone wrote to the database.");

    public static readonly RuleDescriptor UnexpectedEntries = new(
        "TG-LED-006", "ledger-unexpected-entries", Severity.Medium,
        "Rows exist beyond the committed tree size: written outside the ledger's append path.",
        "Find who wrote them; they are not part of the log and are not served.");

    public static readonly RuleDescriptor IndexMismatch = new(
        "TG-LED-007", "event-index-mismatch", Severity.High,
        "The event query index disagrees with the committed events (a row changed, missing or extra): queries could hide or misattribute events.",
        "Rebuild trust from the ledger entries (they are authoritative); find who wrote to the event_index table.");

    public static IReadOnlyList<RuleDescriptor> All { get; } =
        [HistoryRewritten, EntryChanged, EntriesMissing, CheckpointNotReproduced, CheckpointInvalid, UnexpectedEntries, IndexMismatch];
}
