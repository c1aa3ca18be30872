using System.Diagnostics;
using System.Text;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Verification;

/// <summary>
/// The outcome of <see cref="LogConsistencyCheck.RunAsync"/>: a report, the server's new signed tree head when it
/// verified, and the comparisons made (the first that failed holds the two conflicting heads).
/// </summary>
public sealed record ConsistencyOutcome(Report Report, string? NewTreeHead, IReadOnlyList<TreeHeadAdvance> Comparisons)
{
    /// <summary>The comparison that proves misbehaviour (a rollback or a split view), if any.</summary>
    public TreeHeadAdvance? Evidence => Comparisons.FirstOrDefault(c => c.IsEvidence);
}

/// <summary>
/// <c>trainguard ledger verify</c>: proves that a log only grew since older signed tree heads. Fetches the server's
/// latest one (<c>/checkpoint</c>, a C2SP checkpoint), checks its signature and origin against the pinned key, and
/// compares it (<see cref="TreeHeadTracker.CompareAsync"/>: an RFC 9162 consistency proof from
/// <c>/api/v1/proof/consistency</c> verified locally) with the head the caller gives and with the head kept in a
/// state directory, which then moves forward.
/// </summary>
public static class LogConsistencyCheck
{
    /// <summary>
    /// Proves the log only grew since <paramref name="oldTreeHead"/> and since the head kept for it in
    /// <paramref name="stateDirectory"/> (which then keeps the new one). With neither (first use), only checks that
    /// the server's current tree head is signed by <paramref name="key"/>, and hands it back to be kept.
    /// </summary>
    /// <exception cref="TrainGuardApiException">The server could not be reached or answered with an error.</exception>
    /// <exception cref="MalformedInputException">The old or kept tree head, or something the server sent, is malformed.</exception>
    public static async Task<ConsistencyOutcome> RunAsync(TrainGuardApiClient server, string? oldTreeHead, NoteVerifier key, string? stateDirectory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(key);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var where = server.BaseUrl.ToString();
        TreeHead? old = null;
        if (oldTreeHead is not null)
        {
            var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(oldTreeHead), [key]);
            if (!opened.Verification.IsVerified)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"the old tree head (checkpoint) is not signed by {key.Name}+{key.KeyId:x8}: {opened.Verification.Problem}", 0);
            }

            old = opened.TreeHead;
        }

        var newNote = await server.GetTreeHeadAsync(cancellationToken);
        var comparisons = new List<TreeHeadAdvance>();
        var first = await TreeHeadTracker.CompareAsync(oldTreeHead, old, newNote, key, server.GetConsistencyProofAsync, cancellationToken);
        comparisons.Add(first);
        if (first.IsConsistent && stateDirectory is not null && first.New is { } current)
        {
            var tracker = TreeHeadTracker.ForLog(stateDirectory, key, current.Origin);
            comparisons.Add(await tracker.AdvanceAsync(newNote, server, cancellationToken));
        }

        var findings = comparisons.Where(c => !c.IsConsistent).Select(c => Finding(c, where)).ToList();
        var verdict = findings.Count == 0 ? Verdict.Clean : findings.Max(f => f.Verdict);
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "tlog",
            Verdict = verdict,
            Findings = findings,
            Size = first.New?.Size,
            Elapsed = clock.Elapsed,
        };
        var report = new Report { Command = "ledger verify", Items = [item], ItemsName = "logs", Rules = LedgerRules.All, StartedAt = started, Elapsed = clock.Elapsed };
        return new ConsistencyOutcome(report, findings.Count == 0 ? newNote : null, comparisons);
    }

    /// <summary>The finding for a comparison that did not verify: TG-LED-005 (untrusted), TG-LED-008 (rolled back) or TG-LED-001 (split view).</summary>
    public static Finding Finding(TreeHeadAdvance comparison, string where)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        var sizes = comparison.Kept is { } kept && comparison.New is { } current
            ? new[] { ("old_size", kept.Size), ("new_size", current.Size) }
            : [];
        return comparison.Change switch
        {
            TreeHeadChange.RolledBack => LedgerFindings.Make(LedgerRules.RolledBack, comparison.Problem!, where, "checkpoint", sizes),
            TreeHeadChange.SplitView => LedgerFindings.Make(LedgerRules.HistoryRewritten, comparison.Problem!, where, "checkpoint", sizes),
            TreeHeadChange.Untrusted => LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"the server's checkpoint is not trusted: {comparison.Problem}", where, "checkpoint") with { Verdict = Verdict.Error },
            _ => throw new ArgumentException($"{comparison.Change} is not a failed comparison", nameof(comparison)),
        };
    }
}
