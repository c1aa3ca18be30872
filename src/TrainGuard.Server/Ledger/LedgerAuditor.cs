using System.Diagnostics;
using System.Globalization;
using TrainGuard.Findings;
using TrainGuard.Ledger.Checkpoints;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Ledger;

/// <summary>
/// <c>trainguard ledger audit</c>: runs <see cref="LedgerAudit"/> over the store (every leaf recomputed from its
/// entry, the tree rebuilt, every signed checkpoint reproduced) and checks the event index against the entries;
/// the result is a <see cref="Report"/> with TG-LED findings.
/// </summary>
public static class LedgerAuditor
{
    public static async Task<Report> AuditAsync(IServerStore store, IEnumerable<NoteVerifier>? logKeys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var audit = await LedgerAudit.RunAsync(store.Ledger, logKeys, cancellationToken);
        var findings = new List<Finding>();
        var where = store.Description;

        foreach (var index in audit.ChangedEntries)
        {
            findings.Add(Make(LedgerRules.EntryChanged, $"ledger entry {index} does not hash to its stored leaf hash: the row was edited", where, $"ledger_entry idx={index}", ("index", index)));
        }

        if (audit.ChangedEntryCount > audit.ChangedEntries.Count)
        {
            findings.Add(Make(LedgerRules.EntryChanged, $"{audit.ChangedEntryCount - audit.ChangedEntries.Count} more changed entries not listed", where, null));
        }

        foreach (var gap in audit.MissingEntries)
        {
            var what = gap.First == gap.Last ? $"ledger entry {gap.First} is" : $"ledger entries {gap.First}..{gap.Last} are";
            findings.Add(Make(LedgerRules.EntriesMissing, $"{what} missing from the store (tree size {audit.StoredTreeSize})", where, $"ledger_entry idx={gap.First}", ("first", gap.First), ("last", gap.Last)));
        }

        foreach (var index in audit.UnexpectedEntries)
        {
            findings.Add(Make(LedgerRules.UnexpectedEntries, $"ledger row {index} lies beyond the committed tree size {audit.StoredTreeSize}", where, $"ledger_entry idx={index}", ("index", index)));
        }

        foreach (var c in audit.Checkpoints)
        {
            var size = c.Claimed?.Size ?? c.Stored.TreeSize;
            switch (c.Status)
            {
                case CheckpointAuditStatus.Matches:
                    break;
                case CheckpointAuditStatus.RootMismatch:
                    findings.Add(Make(LedgerRules.CheckpointNotReproduced, $"the stored entries no longer rebuild signed checkpoint {c.Stored.Id} (size {size}); the change lies in entries {c.SuspectFromIndex}..{size - 1}", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id), ("size", size), ("suspect_from", c.SuspectFromIndex ?? 0)));
                    break;
                case CheckpointAuditStatus.EntriesMissing:
                    findings.Add(Make(LedgerRules.CheckpointNotReproduced, $"signed checkpoint {c.Stored.Id} (size {size}) cannot be rebuilt: entries below it are missing", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id), ("size", size)));
                    break;
                default:
                    findings.Add(Make(LedgerRules.CheckpointInvalid, $"checkpoint {c.Stored.Id}: {Describe(c.Status)}{(c.Problem is null ? string.Empty : ": " + c.Problem)}", where, $"ledger_checkpoint id={c.Stored.Id}", ("checkpoint_id", c.Stored.Id)));
                    break;
            }
        }

        findings.AddRange(await CheckIndexAsync(store, audit.StoredTreeSize, cancellationToken));

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

    private static async Task<List<Finding>> CheckIndexAsync(IServerStore store, long treeSize, CancellationToken cancellationToken)
    {
        var findings = new List<Finding>();
        var where = store.Description;
        var listed = 0;
        long mismatches = 0;
        // Both streams are in leaf order: merge them.
        await using var entries = store.Ledger.ScanAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var rows = store.ScanIndexAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        var hasEntry = await entries.MoveNextAsync();
        var hasRow = await rows.MoveNextAsync();
        while (hasEntry || hasRow)
        {
            if (hasEntry && entries.Current.Index >= treeSize)
            {
                hasEntry = await entries.MoveNextAsync();
                continue;
            }

            if (hasEntry && (!hasRow || entries.Current.Index < rows.Current.Index))
            {
                if (EventIndexRow.FromEntry(entries.Current.Index, entries.Current.Entry) is not null)
                {
                    Report(entries.Current.Index, "the committed event has no index row: queries do not return it");
                }

                hasEntry = await entries.MoveNextAsync();
            }
            else if (!hasEntry || rows.Current.Index < entries.Current.Index)
            {
                Report(rows.Current.Index, "an index row exists for a leaf that holds no such event");
                hasRow = await rows.MoveNextAsync();
            }
            else
            {
                var row = rows.Current;
                var derived = EventIndexRow.FromEntry(entries.Current.Index, entries.Current.Entry);
                if (derived is null)
                {
                    Report(row.Index, "an index row exists for a leaf that holds no well-formed event");
                }
                else if (derived != row)
                {
                    Report(row.Index, $"the index row (host={row.Host}, user={row.User}, action={row.Action}, ts={row.TimestampMicros}) differs from the committed event (host={derived.Host}, user={derived.User}, action={derived.Action}, ts={derived.TimestampMicros})");
                }

                hasEntry = await entries.MoveNextAsync();
                hasRow = await rows.MoveNextAsync();
            }
        }

        if (mismatches > listed)
        {
            findings.Add(Make(LedgerRules.IndexMismatch, $"{mismatches - listed} more event index mismatches not listed", where, null));
        }

        return findings;

        void Report(long index, string message)
        {
            mismatches++;
            if (listed < LedgerAudit.MaxListedFindings)
            {
                listed++;
                findings.Add(Make(LedgerRules.IndexMismatch, $"event index for leaf {index}: {message}", where, $"event_index idx={index}", ("index", index)));
            }
        }
    }

    private static string Describe(CheckpointAuditStatus status) => status switch
    {
        CheckpointAuditStatus.NoteMalformed => "the stored signed note is malformed",
        CheckpointAuditStatus.SignatureInvalid => "the note is not validly signed by the log key",
        CheckpointAuditStatus.StoredColumnsAltered => "the stored size or root differs from the signed note",
        _ => status.ToString(),
    };

    internal static Finding Make(RuleDescriptor rule, string message, string file, string? member, params (string Key, long Value)[] evidence) => new()
    {
        RuleId = rule.Id,
        Severity = rule.Severity,
        Message = message,
        Location = new Location(file, member),
        Verdict = rule.Severity >= Severity.High ? Verdict.Malicious : Verdict.Suspicious,
        Why = rule.Why,
        Guidance = rule.Guidance,
        Evidence = evidence.Length == 0 ? null : evidence.ToDictionary(e => e.Key, e => e.Value.ToString(CultureInfo.InvariantCulture)),
    };
}
