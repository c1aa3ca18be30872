using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Cluster;

/// <summary>What the sequencer answered for one staged entry (its position in the staged batch).</summary>
public sealed record StagedResult(int Position, long? Index, bool Duplicate, long? ConflictsWith, long TreeSize, string? Error);

/// <summary>
/// The tables through which servers that are not the sequencer hand entries to it (several servers on one PostgreSQL
/// database). <c>ledger_staging</c> holds entries waiting to be appended, in arrival order; the sequencer reads the
/// oldest, appends them like any batch (the same idempotency keys, the same conflict marking) and, in that append's
/// transaction, deletes them and writes one <c>ledger_staging_result</c> row each, so an entry is answered exactly when
/// it is committed. The server that staged a batch reads its results back and removes them. Every append notifies
/// <see cref="SequencedChannel"/> (delivered at commit); staging notifies <see cref="StagedChannel"/>.
/// </summary>
public sealed class LedgerStaging
{
    public const string StagedChannel = "trainguard_staged";
    public const string SequencedChannel = "trainguard_sequenced";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS ledger_staging (
            seq bigserial PRIMARY KEY,
            batch uuid NOT NULL,
            pos integer NOT NULL,
            entry bytea NOT NULL,
            idem_key text NULL,
            staged_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS ledger_staging_result (
            batch uuid NOT NULL,
            pos integer NOT NULL,
            idx bigint NULL,
            duplicate boolean NOT NULL,
            conflicts_with bigint NULL,
            tree_size bigint NOT NULL,
            error text NULL,
            answered_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (batch, pos)
        );
        """;

    private readonly PostgresLedgerStore _ledger;

    // The entries of the drain in progress, by reference: the append hook finds them in whatever list the append carries.
    private readonly ConditionalWeakTable<LedgerAppend, StagedRow> _drained = new();

    private LedgerStaging(PostgresLedgerStore ledger)
    {
        _ledger = ledger;
    }

    /// <summary>Creates the tables if needed and hooks into the ledger's append transaction (after the hooks already set).</summary>
    public static async Task<LedgerStaging> OpenAsync(PostgresLedgerStore ledger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        await ledger.CreateTablesAsync(Schema, ledger.SequencerLockKey ^ 0x7e7e7e7e, cancellationToken);
        var staging = new LedgerStaging(ledger);
        var inner = ledger.AppendHook;
        ledger.AppendHook = async (connection, transaction, entries, result, ct) =>
        {
            if (inner is not null)
            {
                await inner(connection, transaction, entries, result, ct);
            }

            await staging.OnAppendAsync((NpgsqlConnection)connection, (NpgsqlTransaction)transaction, entries, result, ct);
        };
        return staging;
    }

    /// <summary>Stages <paramref name="entries"/> as batch <paramref name="batch"/> (one transaction) and wakes the sequencer.</summary>
    public async Task StageAsync(Guid batch, IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await WithoutWaitingForDiskAsync(connection, transaction, cancellationToken);
        await using (var import = await connection.BeginBinaryImportAsync("COPY ledger_staging (batch, pos, entry, idem_key) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < entries.Count; i++)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(batch, NpgsqlDbType.Uuid, cancellationToken);
                await import.WriteAsync(i, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(entries[i].Entry, NpgsqlDbType.Bytea, cancellationToken);
                await PostgresLedgerStore.WriteTextOrNullAsync(import, entries[i].IdempotencyKey, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        await using (var notify = new NpgsqlCommand("NOTIFY " + StagedChannel, connection, transaction))
        {
            await notify.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The oldest staged entries (at most <paramref name="maxEntries"/>, stopping once <paramref name="maxBytes"/> are
    /// read), as appends the ledger's hooks treat like the events they were: a validated event comes back as an
    /// <see cref="EventAppend"/>, so a conflicting duplicate is marked, not fatal to the batch.
    /// </summary>
    public async Task<IReadOnlyList<LedgerAppend>> ReadStagedAsync(int maxEntries, long maxBytes, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT seq, batch, pos, entry, idem_key FROM ledger_staging ORDER BY seq LIMIT @limit", connection);
        command.Parameters.AddWithValue("limit", maxEntries);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<LedgerAppend>();
        long bytes = 0;
        while (bytes < maxBytes && await reader.ReadAsync(cancellationToken))
        {
            var entry = (byte[])reader.GetValue(3);
            var key = reader.IsDBNull(4) ? null : reader.GetString(4);
            LedgerAppend append = key is not null && EventIndexRow.FromEntry(0, entry) is { } row ? new EventAppend(entry, key, row) : new LedgerAppend(entry, key);
            _drained.AddOrUpdate(append, new StagedRow(reader.GetInt64(0), reader.GetGuid(1), reader.GetInt32(2)));
            result.Add(append);
            bytes += entry.Length;
        }

        return result;
    }

    /// <summary>Answers staged entries that cannot be appended with <paramref name="error"/> and removes them, so the rest go on.</summary>
    public async Task RejectAsync(IEnumerable<LedgerAppend> entries, string error, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var append in entries)
        {
            if (!_drained.TryGetValue(append, out var row))
            {
                continue;
            }

            await using var command = new NpgsqlCommand(
                "INSERT INTO ledger_staging_result (batch, pos, idx, duplicate, tree_size, error) VALUES (@batch, @pos, NULL, false, 0, @error) ON CONFLICT DO NOTHING; " +
                "DELETE FROM ledger_staging WHERE seq = @seq",
                connection,
                transaction);
            command.Parameters.AddWithValue("batch", row.Batch);
            command.Parameters.AddWithValue("pos", row.Position);
            command.Parameters.AddWithValue("error", error);
            command.Parameters.AddWithValue("seq", row.Seq);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await Notify(connection, transaction, SequencedChannel, string.Empty, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The results stored for <paramref name="batches"/>, by batch.</summary>
    public async Task<Dictionary<Guid, List<StagedResult>>> ReadResultsAsync(IReadOnlyCollection<Guid> batches, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Guid, List<StagedResult>>();
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT batch, pos, idx, duplicate, conflicts_with, tree_size, error FROM ledger_staging_result WHERE batch = ANY(@batches)", connection);
        command.Parameters.AddWithValue("batches", batches.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var batch = reader.GetGuid(0);
            if (!found.TryGetValue(batch, out var list))
            {
                found[batch] = list = [];
            }

            list.Add(new StagedResult(
                reader.GetInt32(1),
                reader.IsDBNull(2) ? null : reader.GetInt64(2),
                reader.GetBoolean(3),
                reader.IsDBNull(4) ? null : reader.GetInt64(4),
                reader.GetInt64(5),
                reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return found;
    }

    /// <summary>Removes the results of batches whose answers were read, and those older than <paramref name="unclaimedAfter"/> (their server went away).</summary>
    public async Task ForgetResultsAsync(IReadOnlyCollection<Guid> batches, TimeSpan unclaimedAfter, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await WithoutWaitingForDiskAsync(connection, transaction, cancellationToken);
        await using (var command = new NpgsqlCommand("DELETE FROM ledger_staging_result WHERE batch = ANY(@batches) OR answered_at < now() - @age", connection, transaction))
        {
            command.Parameters.AddWithValue("batches", batches.ToArray());
            command.Parameters.AddWithValue("age", unclaimedAfter);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Staging and forgetting results commit without waiting for the disk (this transaction only): nothing is acknowledged
    /// on them. An entry is acknowledged after the sequencer's durable commit, and that WAL flush covers the staging
    /// commit before it; a staged batch lost in a database crash was never acknowledged, and its agent sends it again.
    /// </summary>
    private static async Task WithoutWaitingForDiskAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SET LOCAL synchronous_commit TO OFF", connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Entries waiting in the staging table, and how long the oldest has waited.</summary>
    public async Task<(long Depth, TimeSpan OldestWait)> DepthAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(staged_at)), 0)::float8 FROM ledger_staging", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(1))));
    }

    /// <summary>
    /// Inside every append transaction: the staged entries it carries are answered (index, duplicate, conflict, new tree
    /// size) and removed from the staging table, and the followers are notified when it commits.
    /// </summary>
    private async Task OnAppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendResult result, CancellationToken cancellationToken)
    {
        var staged = new List<(int Input, StagedRow Row)>();
        for (var i = 0; i < entries.Count; i++)
        {
            if (_drained.TryGetValue(entries[i], out var row))
            {
                staged.Add((i, row));
            }
        }

        if (staged.Count > 0)
        {
            await using (var import = await connection.BeginBinaryImportAsync(
                "COPY ledger_staging_result (batch, pos, idx, duplicate, conflicts_with, tree_size) FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var (i, row) in staged)
                {
                    await import.StartRowAsync(cancellationToken);
                    await import.WriteAsync(row.Batch, NpgsqlDbType.Uuid, cancellationToken);
                    await import.WriteAsync(row.Position, NpgsqlDbType.Integer, cancellationToken);
                    await import.WriteAsync(result.Indices[i], NpgsqlDbType.Bigint, cancellationToken);
                    await import.WriteAsync(result.Duplicates[i], NpgsqlDbType.Boolean, cancellationToken);
                    if (entries[i] is EventAppend { ConflictsWith: { } existing })
                    {
                        await import.WriteAsync(existing, NpgsqlDbType.Bigint, cancellationToken);
                    }
                    else
                    {
                        await import.WriteNullAsync(cancellationToken);
                    }

                    await import.WriteAsync(result.TreeSize, NpgsqlDbType.Bigint, cancellationToken);
                }

                await import.CompleteAsync(cancellationToken);
            }

            await using var delete = new NpgsqlCommand("DELETE FROM ledger_staging WHERE seq = ANY(@seq)", connection, transaction);
            delete.Parameters.AddWithValue("seq", staged.Select(s => s.Row.Seq).ToArray());
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        await Notify(connection, transaction, SequencedChannel, result.TreeSize.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
    }

    private static async Task Notify(NpgsqlConnection connection, NpgsqlTransaction transaction, string channel, string payload, CancellationToken cancellationToken)
    {
        await using var notify = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection, transaction);
        notify.Parameters.AddWithValue("channel", channel);
        notify.Parameters.AddWithValue("payload", payload);
        await notify.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Where a drained entry came from.</summary>
    private sealed record StagedRow(long Seq, Guid Batch, int Position);
}
