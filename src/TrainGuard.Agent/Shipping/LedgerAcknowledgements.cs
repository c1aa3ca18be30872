using System.Text;
using TrainGuard.Agent.Detections;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Shipping;

/// <summary>
/// Whether a server's answer to a batch is an acknowledgement. Null <see cref="Problem"/>: it is, and the events may
/// leave the spool. Otherwise they stay; <see cref="Alert"/> is the <c>ledger-rolled-back</c> or <c>ledger-split-view</c>
/// event when the answer proves the log misbehaved (reported once per kept head and kind of failure).
/// </summary>
public sealed record AcknowledgementCheck(string? Problem, TreeHeadAdvance? Advance, EventRecord? Alert)
{
    public bool IsAcknowledged => Problem is null;
}

/// <summary>
/// The agent's side of witnessing: an answer to <c>POST /api/v1/events</c> is an acknowledgement only when its signed
/// tree head verifies with the log key, is consistent with the last head this agent kept (a consistency proof from
/// it verifies, or it is the same head), and covers the leaf of every event it says it stored (tree size above each
/// index; events it did not store are the shipper's dead letters). The head is
/// kept in the spool folder (<see cref="TreeHeadTracker"/>, one file per log); the log key is <c>server.log_key</c>
/// or, without one, the key the server announces the first time (<c>GET /api/v1/log</c>), pinned in
/// <see cref="PinnedKeyFile"/> from then on. A log cut at its end (rolled back) or showing another history (a split
/// view) is not an acknowledgement: the events stay in the spool and an alert-grade event (TG-AGT-122) says so.
/// </summary>
public sealed class LedgerAcknowledgements
{
    /// <summary>The log key pinned on first contact when the configuration names none (in the spool folder).</summary>
    public const string PinnedKeyFile = "ledger-log.vkey";

    private readonly string _directory;
    private readonly NoteVerifier? _configuredKey;
    private NoteVerifier? _key;
    private string? _lastAlert;

    /// <param name="spoolDirectory">Where the kept head and the pinned key live.</param>
    /// <param name="logKey">The configured log key (<c>server.log_key</c>), or null to pin the announced one.</param>
    public LedgerAcknowledgements(string spoolDirectory, NoteVerifier? logKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(spoolDirectory);
        _directory = spoolDirectory;
        _configuredKey = logKey;
    }

    /// <summary>Checks <paramref name="answer"/> to a batch through <paramref name="server"/> (log key and consistency proofs).</summary>
    /// <exception cref="TrainGuardApiException">The log key or a consistency proof could not be fetched.</exception>
    /// <exception cref="MalformedInputException">An answer, the kept head or the pinned key is malformed.</exception>
    public Task<AcknowledgementCheck> CheckAsync(EventBatchResult answer, TrainGuardApiClient server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return CheckAsync(answer, async ct => (await server.GetLogInfoAsync(ct)).VerifierKey, server.GetConsistencyProofAsync, DateTimeOffset.UtcNow, cancellationToken);
    }

    /// <summary>The check with the log key and proofs from the caller (the detection samples drive it this way).</summary>
    public async Task<AcknowledgementCheck> CheckAsync(EventBatchResult answer, Func<CancellationToken, Task<string>> announcedKey, ConsistencyProofSource proofs, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var key = await KeyAsync(announcedKey, cancellationToken);
        var (advance, _) = await TreeHeadTracker.AdvanceInDirectoryAsync(_directory, key, answer.TreeHead, proofs, cancellationToken);
        if (advance.IsConsistent)
        {
            var size = advance.New!.Size;
            var stored = answer.Results.Where(r => r.IsStored).ToList();
            var uncovered = stored.Count(r => r.Index < 0 || r.Index >= size);
            return uncovered == 0
                ? new AcknowledgementCheck(null, advance, null)
                : new AcknowledgementCheck($"the server's signed tree head (size {size}) does not cover {uncovered} of the {stored.Count} events it says it stored; kept for retry", advance, null);
        }

        var problem = $"the server's answer is no acknowledgement: {advance.Problem}; the {answer.Results.Count} events stay in the spool";
        if (!advance.IsEvidence)
        {
            return new AcknowledgementCheck(problem, advance, null);
        }

        // One alert per kept head and kind of failure: every retry fails the same way until the log is repaired.
        var fingerprint = $"{advance.Change}|{advance.Kept!.Size}|{Convert.ToBase64String(advance.Kept.RootHash)}";
        var alert = fingerprint == _lastAlert ? null : Alert(advance, answer.Results.Count, now);
        _lastAlert = fingerprint;
        return new AcknowledgementCheck(problem, advance, alert);
    }

    private async Task<NoteVerifier> KeyAsync(Func<CancellationToken, Task<string>> announcedKey, CancellationToken cancellationToken)
    {
        if (_key is not null)
        {
            return _key;
        }

        if (_configuredKey is not null)
        {
            return _key = _configuredKey;
        }

        var file = Path.Combine(_directory, PinnedKeyFile);
        if (File.Exists(file))
        {
            try
            {
                return _key = NoteVerifier.Parse(File.ReadAllText(file).Trim());
            }
            catch (MalformedInputException ex)
            {
                MalformedInputException.Throw(ex.Kind, $"{file}: the pinned log key is malformed: {ex.Message}", ex.Offset ?? 0);
            }
        }

        NoteVerifier announced;
        try
        {
            announced = NoteVerifier.Parse(await announcedKey(cancellationToken));
        }
        catch (MalformedInputException ex)
        {
            return MalformedInputException.Throw<NoteVerifier>(ex.Kind, $"GET api/v1/log: the log's verifier_key is unusable: {ex.Message}", ex.Offset ?? 0);
        }

        var temp = file + ".tmp";
        File.WriteAllText(temp, announced.VerifierKey + "\n");
        File.Move(temp, file, overwrite: true);
        return _key = announced;
    }

    /// <summary>The <c>ledger-rolled-back</c> or <c>ledger-split-view</c> event, annotated by its detection (TG-AGT-122).</summary>
    private static EventRecord Alert(TreeHeadAdvance advance, int unacknowledged, DateTimeOffset now)
    {
        var action = advance.Change == TreeHeadChange.RolledBack ? AgentActions.LedgerRolledBack : AgentActions.LedgerSplitView;
        var e = new EventRecord(now, action, EventKinds.Alert, UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"ledger-ack|{advance.KeptNote}|{advance.NewNote}")));
        e.Set(EventFields.Module, "agent").Set(EventFields.Dataset, "agent");
        e.Set(EventFields.Category, ["host", "intrusion_detection"]).Set(EventFields.Type, ["info"]);
        e.Set("trainguard.ledger.origin", advance.New!.Origin);
        e.Set("trainguard.ledger.problem", advance.Problem);
        e.Set("trainguard.ledger.kept_size", advance.Kept!.Size);
        e.Set("trainguard.ledger.new_size", advance.New.Size);
        e.Set("trainguard.ledger.kept_tree_head", advance.KeptNote);
        e.Set("trainguard.ledger.new_tree_head", advance.NewNote);
        e.Set("trainguard.ledger.unacknowledged_events", unacknowledged);
        return AgentDetections.Default.Annotate(e);
    }
}
