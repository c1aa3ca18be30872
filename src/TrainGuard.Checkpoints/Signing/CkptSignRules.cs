using TrainGuard.Findings;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>A rule of <c>ckpt verify</c>: its descriptor and the verdict its findings give the file they are about.</summary>
public sealed record CkptSignRule(RuleDescriptor Descriptor, Verdict Verdict)
{
    public string Id => Descriptor.Id;

    public Finding Create(string message, Location location, IReadOnlyDictionary<string, string>? evidence = null) => new()
    {
        RuleId = Descriptor.Id,
        Severity = Descriptor.Severity,
        Message = message,
        Location = location,
        Verdict = Verdict,
        Why = Descriptor.Why,
        Guidance = Descriptor.Guidance,
        Evidence = evidence,
    };
}

/// <summary>The rules of <c>ckpt sign/verify</c> (TG-CKP-001..019). Guidance pages: <c>docs/rules/TG-CKP-0xx.md</c>.</summary>
public static class CkptSignRules
{
    public static readonly CkptSignRule FileChanged = new(new RuleDescriptor("TG-CKP-001", "checkpoint-file-changed", Severity.Critical,
        "A checkpoint file's SHA-256 differs from the signed manifest: its weights, optimizer, scheduler or RNG state were changed after it was saved.",
        "Do not load or resume from it. Keep a copy as evidence, restore the file from a copy that verifies, and find who wrote it (mtime, audit log, 'trainguard ckpt diff' against the good copy)."),
        Verdict.Malicious);

    public static readonly CkptSignRule FileAdded = new(new RuleDescriptor("TG-CKP-002", "checkpoint-file-added", Severity.High,
        "A file is in the checkpoint that the signed manifest does not list; a resume may load it (an extra rng_state_N.pth or training_args.bin is read with torch.load).",
        "Find out who added it and why; scan it (trainguard scan) and remove it unless it is explained. Re-sign only after review."),
        Verdict.Suspicious);

    public static readonly CkptSignRule FileDeleted = new(new RuleDescriptor("TG-CKP-003", "checkpoint-file-deleted", Severity.High,
        "A file the signed manifest lists is gone: a resume without its optimizer or scheduler state silently restarts them, and missing weights make results unreproducible.",
        "Restore the file from a copy that verifies; find who deleted it (audit log, the agent's file-deleted events)."),
        Verdict.Suspicious);

    public static readonly CkptSignRule SignatureInvalid = new(new RuleDescriptor("TG-CKP-004", "checkpoint-signature-invalid", Severity.Critical,
        "The signature does not verify with the given key (or its certificate does not chain to the trusted certificates), or the signed manifest is malformed: nothing it says can be trusted.",
        "Check that you used the right public key or CA certificates. If they are right, the signature file was replaced or edited: treat the checkpoint as untrusted and find out who wrote the .sig file."),
        Verdict.Error);

    public static readonly CkptSignRule Unverifiable = new(new RuleDescriptor("TG-CKP-005", "checkpoint-unverifiable", Severity.High,
        "The checkpoint could not be hashed the way the signature describes (a symbolic link where none are allowed, an unreadable file, nothing left to hash), so it could not be verified.",
        "Read the message; replace symbolic links by the files they point to or run as an account that can read every file, then verify again."),
        Verdict.Error);

    public static readonly CkptSignRule LedgerRecordMissing = new(new RuleDescriptor("TG-CKP-006", "ledger-record-missing", Severity.Critical,
        "The signature verifies but the ledger has no record of this manifest: the checkpoint was signed without being recorded, which is what someone who re-signs a tampered checkpoint with a stolen or shared key does.",
        "Compare the checkpoint with the last copy whose manifest the ledger recorded (trainguard ckpt diff). If signing without --server is your normal practice, record it with 'ckpt sign --server' only after that review."),
        Verdict.Malicious);

    public static readonly CkptSignRule LedgerRecordMismatch = new(new RuleDescriptor("TG-CKP-007", "ledger-record-mismatch", Severity.Critical,
        "The ledger holds an event under this manifest's id that records a different manifest digest (or is not a checkpoint-signed event): the record was forged or the id collides.",
        "Keep the ledger answer (the command's JSON output) as evidence and investigate who appended that event (its user.name, host.name and time)."),
        Verdict.Malicious);

    public static readonly CkptSignRule LedgerProofInvalid = new(new RuleDescriptor("TG-CKP-008", "ledger-proof-invalid", Severity.Critical,
        "The ledger's answer does not prove the record: the event's leaf is not in the tree of the signed checkpoint, or the checkpoint is not signed by the log's key.",
        "Pin the log's verifier key (--log-key, from 'trainguard server key show'); if the proof still fails, the server or something between you and it altered its answer: run 'trainguard ledger verify' and 'ledger audit'."),
        Verdict.Error);

    public static readonly CkptSignRule LedgerUnavailable = new(new RuleDescriptor("TG-CKP-009", "ledger-unavailable", Severity.High,
        "The ledger could not be asked (unreachable, timed out, refused the token, or answered something unreadable), so whether this manifest was recorded is unknown.",
        "Check --server (the server's base URL) and the token (a reader or admin token: --token, --token-file or TRAINGUARD_TOKEN), then verify again."),
        Verdict.Error);

    public static IReadOnlyList<CkptSignRule> All { get; } =
    [
        FileChanged, FileAdded, FileDeleted, SignatureInvalid, Unverifiable, LedgerRecordMissing, LedgerRecordMismatch, LedgerProofInvalid, LedgerUnavailable,
    ];

    public static IReadOnlyList<RuleDescriptor> Descriptors { get; } = All.Select(r => r.Descriptor).ToList();
}
