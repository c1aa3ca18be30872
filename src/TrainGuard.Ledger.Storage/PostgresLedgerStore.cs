using System.Buffers.Binary;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// <see cref="ILedgerStore"/> in PostgreSQL (tables in the connection's current schema). Reads go through a
/// pooled data source and can run on any replica; appends go through one <em>sequencer</em> connection that
/// holds a session-level <c>pg_advisory_lock</c> for this ledger, so only one process appends at a time
/// (others wait up to <see cref="SequencerTimeout"/>). Each batch is one transaction that locks the head
/// row, bulk-copies the rows (binary COPY), advances the tree size and stores the signed tree head.
/// </summary>
public sealed class PostgresLedgerStore : SqlLedgerStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS ledger_entry (
            idx bigint PRIMARY KEY,
            entry bytea NOT NULL,
            leaf_hash bytea NOT NULL,
            idem_key text NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS ledger_head (
            id integer PRIMARY KEY CHECK (id = 1),
            tree_size bigint NOT NULL
        );
        INSERT INTO ledger_head (id, tree_size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS ledger_checkpoint (
            id bigserial PRIMARY KEY,
            tree_size bigint NOT NULL,
            root_hash bytea NOT NULL,
            note text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private NpgsqlConnection? _sequencer;

    private PostgresLedgerStore(NpgsqlDataSource dataSource, long lockKey)
        : base(SqlDialect.Postgres)
    {
        _dataSource = dataSource;
        SequencerLockKey = lockKey;
    }

    /// <summary>The advisory lock key: derived from the database and schema, so each ledger has its own sequencer.</summary>
    public long SequencerLockKey { get; }

    /// <summary>How long an append waits for another process's sequencer lock before failing.</summary>
    public TimeSpan SequencerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>True while this instance holds the sequencer lock.</summary>
    public bool IsSequencer => _sequencer is not null;

    /// <summary>The pooled data source the store reads through (owned by the store).</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>Connects, creates the tables if needed, and returns the store. The data source is owned by the store.</summary>
    public static async Task<PostgresLedgerStore> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            long lockKey;
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
            {
                lockKey = await DeriveLockKeyAsync(connection, cancellationToken);
            }

            var store = new PostgresLedgerStore(dataSource, lockKey);
            await store.CreateTablesAsync(Schema, lockKey ^ 0x5c5c5c5c, cancellationToken);
            return store;
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs the <c>CREATE ... IF NOT EXISTS</c> statements of <paramref name="schema"/> in one transaction that first takes
    /// the advisory lock <paramref name="guardKey"/>: concurrent schema creation races in PostgreSQL, so it is serialised.
    /// </summary>
    public async Task CreateTablesAsync(string schema, long guardKey, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(schema);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var guard = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            guard.Parameters.AddWithValue("key", guardKey);
            await guard.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var create = new NpgsqlCommand(schema, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Takes the sequencer lock now (appends take it on first use) and keeps it until disposal.</summary>
    public async Task AcquireSequencerLockAsync(CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            await AcquireSequencerAsync(cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// One attempt that never waits: true when this instance holds the sequencer lock afterwards. A lock already held
    /// is checked on its own session (a session that is gone took the lock with it: false, and another process may
    /// hold it now); otherwise the lock is tried once. Servers sharing a database call this to elect their sequencer.
    /// </summary>
    public async Task<bool> TryHoldSequencerLockAsync(CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            if (_sequencer is { } held)
            {
                try
                {
                    await using var ping = new NpgsqlCommand("SELECT 1", held);
                    await ping.ExecuteScalarAsync(cancellationToken);
                    return true;
                }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException || held.FullState.HasFlag(System.Data.ConnectionState.Broken))
                {
                    // Lost: the caller learns it now (and must start from the store if it takes the lock again later).
                    await ReleaseSequencerAsync();
                    return false;
                }
            }

            var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
                command.Parameters.AddWithValue("key", SequencerLockKey);
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
                {
                    _sequencer = connection;
                    return true;
                }
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }

            await connection.DisposeAsync();
            return false;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        await ReleaseSequencerAsync();
        await _dataSource.DisposeAsync();
        _writeGate.Dispose();
    }

    /// <inheritdoc />
    protected override async Task<AppendResult> AppendAsync(IReadOnlyList<LedgerAppend> entries, byte[] leafHashes, Func<AppendResult, TreeHeadDraft?>? treeHead, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            var connection = await AcquireSequencerAsync(cancellationToken);
            try
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                return await AppendInTransactionAsync(connection, transaction, entries, leafHashes, treeHead, cancellationToken);
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException || connection.FullState.HasFlag(System.Data.ConnectionState.Broken))
            {
                // The sequencer session may be gone, and the advisory lock with it: reacquire next time.
                await ReleaseSequencerAsync();
                throw;
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    protected override async Task<T> InWriteTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        return await work(connection, transaction);
    }

    /// <inheritdoc />
    protected override async Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

    /// <inheritdoc />
    protected override async Task<Dictionary<string, long>> FindKeysAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return found;
        }

        await using var command = new NpgsqlCommand("SELECT idem_key, idx FROM ledger_entry WHERE idem_key = ANY(@keys)", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.AddWithValue("keys", keys.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetString(0)] = reader.GetInt64(1);
        }

        return found;
    }

    /// <inheritdoc />
    protected override async Task InsertEntriesAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<LedgerAppend> entries, AppendPlan plan, CancellationToken cancellationToken)
    {
        await using var import = await ((NpgsqlConnection)connection).BeginBinaryImportAsync(
            "COPY ledger_entry (idx, entry, leaf_hash, idem_key) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in plan.NewRows(entries))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(row.Index, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(row.Entry, NpgsqlDbType.Bytea, cancellationToken);
            await import.WriteAsync(row.LeafHash, NpgsqlDbType.Bytea, cancellationToken);
            await WriteTextOrNullAsync(import, row.IdempotencyKey, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    /// <summary>Writes a text column of a binary COPY row, or NULL.</summary>
    public static async Task WriteTextOrNullAsync(NpgsqlBinaryImporter import, string? value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(import);
        if (value is null)
        {
            await import.WriteNullAsync(cancellationToken);
        }
        else
        {
            await import.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);
        }
    }

    private async Task<NpgsqlConnection> AcquireSequencerAsync(CancellationToken cancellationToken)
    {
        if (_sequencer is not null)
        {
            return _sequencer;
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var deadline = DateTime.UtcNow + SequencerTimeout;
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
            command.Parameters.AddWithValue("key", SequencerLockKey);
            while (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"another process holds the ledger sequencer lock ({SequencerLockKey}); waited {SequencerTimeout}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            }

            _sequencer = connection;
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task ReleaseSequencerAsync()
    {
        var connection = _sequencer;
        _sequencer = null;
        if (connection is null)
        {
            return;
        }

        // A pooled connection keeps its session (and the lock) while idle in the pool, so unlock explicitly;
        // a broken connection's session is gone and its locks with it.
        try
        {
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                unlock.Parameters.AddWithValue("key", SequencerLockKey);
                await unlock.ExecuteNonQueryAsync();
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
        {
            NpgsqlConnection.ClearPool(connection);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    private static async Task<long> DeriveLockKeyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT current_database() || '.' || current_schema()", connection);
        var scope = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes("trainguard-ledger-sequencer:" + scope));
        return BinaryPrimitives.ReadInt64BigEndian(digest);
    }
}
