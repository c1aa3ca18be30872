using System.Globalization;
using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Alerts;
using TrainGuard.Server.Http;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// What the dashboard reads beyond the API's services: the latest tree heads, the proof of one entry, the newest
/// events of an action. Every query reads an index (the event index, the ledger's primary key, the tree head id):
/// none scans the ledger.
/// </summary>
internal static class DashboardQueries
{
    /// <summary>The newest <paramref name="count"/> stored tree heads, newest first.</summary>
    public static async Task<List<StoredTreeHead>> LatestTreeHeadsAsync(ServerState state, int count, long? belowSize, CancellationToken cancellationToken)
    {
        var ledger = SqlLedger(state);
        await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            "SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoint" + (belowSize is null ? string.Empty : " WHERE tree_size < @below") + " ORDER BY id DESC LIMIT @limit",
            ("@limit", (long)count));
        if (belowSize is { } below)
        {
            SqlDialect.Add(command, "@below", below);
        }

        var result = new List<StoredTreeHead>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredTreeHead(reader.GetInt64(0), reader.GetInt64(1), (byte[])reader.GetValue(2), reader.GetString(3), ledger.Dialect.ReadTimestamp(reader, 4)));
        }

        return result;
    }

    /// <summary>The latest tree head, checked: signature, consistency with the one before it and with the newest cosigned one.</summary>
    public static async Task<TreeHeadStatus> TreeHeadStatusAsync(ServerState state, CancellationToken cancellationToken)
    {
        var latest = state.TreeHeads.Latest;
        var signature = Open(state, latest.Note) is { } opened && opened.IsTrusted && opened.TreeHead.RootHash.SequenceEqual(latest.RootHash);
        var stored = await LatestTreeHeadsAsync(state, 1, null, cancellationToken);
        var previous = (await LatestTreeHeadsAsync(state, 1, latest.Size, cancellationToken)).FirstOrDefault();
        bool? consistentPrevious = previous is null ? null : Consistent(state, previous.TreeSize, previous.RootHash, latest.Size, latest.RootHash);

        long? cosignedSize = null;
        bool? consistentCosigned = null;
        var cosignatures = 0;
        if (state.Cosignatures.NewestCosigned is { } cosigned)
        {
            try
            {
                var note = SignedNote.Parse(cosigned);
                var head = TreeHead.Parse(note.Text);
                cosignedSize = head.Size;
                cosignatures = note.Signatures.Count(s => state.Cosignatures.Witnesses.Any(w => w.Verify(note.Text, s) is not null));
                consistentCosigned = head.Size <= latest.Size && Consistent(state, head.Size, head.RootHash.ToArray(), latest.Size, latest.RootHash);
            }
            catch (Parsing.MalformedInputException)
            {
                consistentCosigned = false;
            }
        }

        return new TreeHeadStatus(
            latest.Size,
            Convert.ToHexStringLower(latest.RootHash),
            latest.Note,
            stored.FirstOrDefault(s => s.TreeSize == latest.Size)?.CreatedAt,
            signature,
            previous?.TreeSize,
            consistentPrevious,
            cosignedSize,
            cosignatures,
            consistentCosigned);
    }

    /// <summary>Whether the tree of size <paramref name="size1"/> and root <paramref name="root1"/> is a prefix of the log's tree of size <paramref name="size2"/> with root <paramref name="root2"/>.</summary>
    public static bool Consistent(ServerState state, long size1, byte[] root1, long size2, byte[] root2)
    {
        if (size1 > size2 || size2 > state.Log.Size)
        {
            return false;
        }

        if (size1 == size2)
        {
            return root1.AsSpan().SequenceEqual(root2);
        }

        if (size1 == 0)
        {
            return root1.AsSpan().SequenceEqual(MerkleHash.EmptyRoot);
        }

        var proof = state.Log.ConsistencyProof(size1, size2);
        return MerkleTree.VerifyConsistency((ulong)size1, (ulong)size2, proof, root1, root2);
    }

    /// <summary>The inclusion proof of entry <paramref name="index"/> in the latest signed tree head (one is published when none covers it yet), checked.</summary>
    public static async Task<InclusionCheck?> ProveAsync(ServerState state, long index, CancellationToken cancellationToken)
    {
        if (index < 0 || index >= state.Log.Size)
        {
            return null;
        }

        var entry = await state.Store.Ledger.GetEntryAsync(index, cancellationToken);
        if (entry is null)
        {
            return null;
        }

        var leaf = (await state.Store.Ledger.GetLeafHashesAsync(index, 1, cancellationToken))[0];
        var head = await state.TreeHeads.EnsureAsync(index + 1, cancellationToken);
        var path = state.Log.InclusionProof(index, head.Size);
        return InclusionCheck.Create(index, entry, leaf, head.Note, path, state.Log.Verifier, state.Log.Origin);
    }

    /// <summary>The newest events, optionally of one action and host (through the event index), newest first.</summary>
    public static async Task<List<DashboardEvent>> NewestAsync(ServerState state, string? action, string? host, int limit, CancellationToken cancellationToken)
    {
        var events = await state.Store.QueryAsync(new EventQuery { Action = action, Host = host, Descending = true, Limit = limit }, cancellationToken);
        return [.. events.Select(e => DashboardEvent.From(e.Index, e.Entry))];
    }

    /// <summary>
    /// The timeline of an account (name or login uid) or a host, from the alert store's actor index: the same
    /// sequence of store calls as <c>GET /api/v1/timeline</c>. Null when no event matches.
    /// </summary>
    public static Task<AlertTimeline?> TimelineAsync(ServerState state, string? user, string? host, long? since, long? until, int limit, CancellationToken cancellationToken) =>
        AlertTimeline.LoadAsync(state.Alerts, user, host, since, until, limit, cancellationToken);

    /// <summary>
    /// Changes an alert's status as <c>POST /api/v1/alerts/{id}/status</c> does: checked by the alert lifecycle,
    /// recorded in the ledger first, then stored, the deriver woken and the notifier told. Returns the stored alert, or
    /// the problem (and whether it is a conflict with the alert's status).
    /// </summary>
    public static async Task<(Alert? Alert, string? Problem)> ChangeStatusAsync(ServerState state, Alert alert, AlertStatusChange change, Auth.Submitter submitter)
    {
        if (change.Assignee is null && change.Status == AlertStatus.Acknowledged && alert.Assignee is null && submitter.Identity is { } person)
        {
            change = change with { Assignee = person };
        }

        if (AlertLifecycle.Check(alert, change) is { } problem)
        {
            return (null, problem.Problem);
        }

        var now = state.Time.GetUtcNow();
        var append = AlertStatusEvent.Create(alert, change, submitter, now);
        var (result, _) = await state.TreeHeads.AppendAsync([append], CancellationToken.None);
        var index = result.Indices[0];
        var entry = new AlertHistoryEntry(now, AlertStatusEvent.By(submitter), alert.Status, change.Status, change.Classification, change.Assignee, change.Note, index);
        var stored = await state.Alerts.ChangeStatusAsync(alert.Id, entry, CancellationToken.None) ?? alert;
        state.Deriver?.Wake();
        await state.Notifier.NotifyAsync(stored.ToNotification(AlertNotificationKind.StatusChanged, AlertEndpoints.Link(state, stored.Id)), CancellationToken.None);
        return (stored, null);
    }

    /// <summary>Parses <c>datetime-local</c> or RFC 3339 text as UTC microseconds; null for empty text.</summary>
    public static long? ParseTime(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var t = text.Trim();
        if (DateTime.TryParseExact(t, ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var local))
        {
            return Events.Rfc3339.ToUnixMicroseconds(new DateTimeOffset(local, TimeSpan.Zero));
        }

        return Events.Rfc3339.ToUnixMicroseconds(Events.Rfc3339.Parse(t, field));
    }

    private static SignedTreeHead? Open(ServerState state, string note)
    {
        try
        {
            return TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [state.Log.Verifier], state.Log.Origin);
        }
        catch (Parsing.MalformedInputException)
        {
            return null;
        }
    }

    private static SqlLedgerStore SqlLedger(ServerState state) =>
        state.Store.Ledger as SqlLedgerStore ?? throw new InvalidOperationException("the dashboard needs a SQL ledger store");

}
