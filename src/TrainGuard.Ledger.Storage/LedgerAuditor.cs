using System.Diagnostics;
using System.Globalization;
using TrainGuard.Findings;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// <c>trainguard ledger audit</c>: runs <see cref="LedgerAudit"/> over the store (every leaf recomputed from its
/// entry, the tree rebuilt, every signed tree head reproduced) plus the caller's own checks of what it keeps beside
/// the ledger (the server's event index); the result is a <see cref="Report"/> with TG-LED findings.
/// </summary>
public static class LedgerAuditor
{
    /// <summary>
    /// Audits <paramref name="store"/>, described as <paramref name="where"/> in findings; <paramref name="moreChecks"/>
    /// gets the committed tree size and returns findings of its own.
    /// </summary>
    public static Task<Report> AuditAsync(
        ILedgerStore store,
        string where,
        IEnumerable<NoteVerifier>? logKeys,
        Func<long, CancellationToken, Task<IReadOnlyList<Finding>>>? moreChecks = null,
        CancellationToken cancellationToken = default) =>
        AuditAsync(store, where, logKeys, [], moreChecks, cancellationToken);

    /// <summary>
    /// As <see cref="AuditAsync(ILedgerStore, string, IEnumerable{NoteVerifier}?, Func{long, CancellationToken, Task{IReadOnlyList{Finding}}}?, CancellationToken)"/>,
    /// and every tree head in <paramref name="keptTreeHeads"/> (kept outside the server) must be reproduced: a kept
    /// head larger than the stored log is a rollback (TG-LED-008), one the entries do not rebuild a rewrite (TG-LED-004).
    /// </summary>
    public static async Task<Report> AuditAsync(
        ILedgerStore store,
        string where,
        IEnumerable<NoteVerifier>? logKeys,
        IReadOnlyList<string> keptTreeHeads,
        Func<long, CancellationToken, Task<IReadOnlyList<Finding>>>? moreChecks = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(where);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var audit = await LedgerAudit.RunAsync(store, logKeys, keptTreeHeads, cancellationToken);
        var findings = new List<Finding>();

        foreach (var index in audit.ChangedEntries)
        {
            findings.Add(LedgerFindings.Make(LedgerRules.EntryChanged, $"ledger entry {index} does not hash to its stored leaf hash: the row was edited", where, $"ledger_entry idx={index}", ("index", index)));
        }

        if (audit.ChangedEntryCount > audit.ChangedEntries.Count)
        {
            findings.Add(LedgerFindings.Make(LedgerRules.EntryChanged, $"{audit.ChangedEntryCount - audit.ChangedEntries.Count} more changed entries not listed", where, null));
        }

        foreach (var gap in audit.MissingEntries)
        {
            var what = gap.First == gap.Last ? $"ledger entry {gap.First} is" : $"ledger entries {gap.First}..{gap.Last} are";
            findings.Add(LedgerFindings.Make(LedgerRules.EntriesMissing, $"{what} missing from the store (tree size {audit.StoredTreeSize})", where, $"ledger_entry idx={gap.First}", ("first", gap.First), ("last", gap.Last)));
        }

        foreach (var index in audit.UnexpectedEntries)
        {
            findings.Add(LedgerFindings.Make(LedgerRules.UnexpectedEntries, $"ledger row {index} lies beyond the committed tree size {audit.StoredTreeSize}", where, $"ledger_entry idx={index}", ("index", index)));
        }

        foreach (var c in audit.TreeHeads)
        {
            var size = c.Claimed?.Size ?? c.Stored.TreeSize;
            if (c.Stored.Id < 0)
            {
                if (KeptFinding(c, audit.StoredTreeSize, where) is { } kept)
                {
                    findings.Add(kept);
                }

                continue;
            }

            switch (c.Status)
            {
                case TreeHeadAuditStatus.Matches:
                    break;
                case TreeHeadAuditStatus.RootMismatch:
                    findings.Add(LedgerFindings.Make(LedgerRules.CheckpointNotReproduced, $"the stored entries no longer rebuild signed checkpoint {c.Stored.Id} (size {size}); the change lies in entries {c.SuspectFromIndex}..{size - 1}", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id), ("size", size), ("suspect_from", c.SuspectFromIndex ?? 0)));
                    break;
                case TreeHeadAuditStatus.EntriesMissing:
                    findings.Add(LedgerFindings.Make(LedgerRules.CheckpointNotReproduced, $"signed checkpoint {c.Stored.Id} (size {size}) cannot be rebuilt: entries below it are missing", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id), ("size", size)));
                    break;
                default:
                    findings.Add(LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"checkpoint {c.Stored.Id}: {Describe(c.Status)}{(c.Problem is null ? string.Empty : ": " + c.Problem)}", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id)));
                    break;
            }
        }

        if (moreChecks is not null)
        {
            findings.AddRange(await moreChecks(audit.StoredTreeSize, cancellationToken));
        }

        var verdict = findings.Count == 0 ? Verdict.Clean : findings.Any(f => f.Verdict == Verdict.Malicious) ? Verdict.Malicious : Verdict.Suspicious;
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "ledger",
            Verdict = verdict,
            Findings = findings,
            Size = audit.StoredTreeSize,
            Elapsed = clock.Elapsed,
        };
        return new Report
        {
            Command = "ledger audit",
            Items = [item],
            ItemsName = "ledgers",
            Rules = LedgerRules.All,
            StartedAt = started,
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>The finding for a tree head kept outside the server (<c>ledger audit --tree-head</c>), or null when the store reproduces it.</summary>
    private static Finding? KeptFinding(TreeHeadAudit c, long storedSize, string where)
    {
        var member = $"kept tree head {-c.Stored.Id}";
        if (c.Claimed is { } head && head.Size > storedSize && c.Status is TreeHeadAuditStatus.Matches or TreeHeadAuditStatus.EntriesMissing)
        {
            return LedgerFindings.Make(LedgerRules.RolledBack, $"the store holds {storedSize} entries, but a tree head the log signed and someone kept covers {head.Size}: the newest {head.Size - storedSize} entries were cut (a rollback)", where, member, ("kept_size", head.Size), ("stored_size", storedSize));
        }

        return c.Status switch
        {
            TreeHeadAuditStatus.Matches => null,
            TreeHeadAuditStatus.RootMismatch or TreeHeadAuditStatus.EntriesMissing => LedgerFindings.Make(LedgerRules.CheckpointNotReproduced, $"the stored entries no longer rebuild the kept tree head of size {c.Claimed!.Size}; the change lies in entries {c.SuspectFromIndex ?? 0}..{c.Claimed.Size - 1}", where, member, ("size", c.Claimed.Size)),
            _ => LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"{member}: {Describe(c.Status)}{(c.Problem is null ? string.Empty : ": " + c.Problem)}", where, member),
        };
    }

    private static string Describe(TreeHeadAuditStatus status) => status switch
    {
        TreeHeadAuditStatus.NoteMalformed => "the stored signed note is malformed",
        TreeHeadAuditStatus.SignatureInvalid => "the note is not validly signed by the log key",
        TreeHeadAuditStatus.StoredColumnsAltered => "the stored size or root differs from the signed note",
        _ => status.ToString(),
    };
}
