using TrainGuard.Ledger.Storage;

namespace TrainGuard.Server.Storage;

/// <summary>A witness's cosignature as the server keeps it: the log's signed tree head it covers and the witness's line.</summary>
/// <param name="TreeSize">Size of the cosigned tree head.</param>
/// <param name="Note">The tree head with the log's own signature (no cosignatures).</param>
/// <param name="Witness">The witness key name.</param>
/// <param name="KeyId">The witness key ID.</param>
/// <param name="SignedAt">The time the witness signed (its cosignature timestamp).</param>
/// <param name="Line">The cosignature line, newline included.</param>
public sealed record StoredCosignature(long TreeSize, string Note, string Witness, uint KeyId, DateTimeOffset SignedAt, string Line);

/// <summary>
/// The <c>witness_cosignature</c> table beside the ledger (SQLite or PostgreSQL): per tree head size and witness key, the
/// newest cosignature received. Not part of the log: a cosignature is a witness's statement about the log, kept so
/// the server can serve cosigned tree heads; losing the table loses no evidence the log holds.
/// </summary>
public sealed class CosignatureStore
{
    private const string SqliteSchema = """
        CREATE TABLE IF NOT EXISTS witness_cosignature (
            tree_size INTEGER NOT NULL,
            witness TEXT NOT NULL,
            key_id INTEGER NOT NULL,
            signed_at INTEGER NOT NULL,
            note TEXT NOT NULL,
            line TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (tree_size, witness, key_id)
        );
        """;

    private const string PostgresSchema = """
        CREATE TABLE IF NOT EXISTS witness_cosignature (
            tree_size bigint NOT NULL,
            witness text NOT NULL,
            key_id bigint NOT NULL,
            signed_at bigint NOT NULL,
            note text NOT NULL,
            line text NOT NULL,
            received_at timestamptz NOT NULL,
            PRIMARY KEY (tree_size, witness, key_id)
        );
        """;

    private const string Columns = "tree_size, note, witness, key_id, signed_at, line";

    private readonly SqlLedgerStore _ledger;

    private CosignatureStore(SqlLedgerStore ledger)
    {
        _ledger = ledger;
    }

    /// <summary>Creates the table beside <paramref name="store"/>'s ledger when it is missing.</summary>
    public static async Task<CosignatureStore> OpenAsync(IServerStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        switch (store.Ledger)
        {
            case PostgresLedgerStore postgres:
                await postgres.CreateTablesAsync(PostgresSchema, postgres.SequencerLockKey ^ 0x5757_5757, cancellationToken);
                return new CosignatureStore(postgres);
            case SqliteLedgerStore sqlite:
                await using (var connection = await sqlite.OpenConnectionAsync(cancellationToken))
                {
                    await using var create = SqlDialect.Command(connection, null, SqliteSchema);
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }

                return new CosignatureStore(sqlite);
            default:
                throw new NotSupportedException($"witness cosignatures need a SQLite or PostgreSQL store, not {store.Ledger.GetType().Name}");
        }
    }

    /// <summary>Keeps <paramref name="cosignature"/> unless a newer one of the same witness for the same size is kept.</summary>
    public async Task SaveAsync(StoredCosignature cosignature, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cosignature);
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            """
            INSERT INTO witness_cosignature (tree_size, witness, key_id, signed_at, note, line, received_at)
            VALUES (@size, @witness, @key, @at, @note, @line, @received)
            ON CONFLICT (tree_size, witness, key_id) DO UPDATE SET signed_at = excluded.signed_at, line = excluded.line, received_at = excluded.received_at
            WHERE excluded.signed_at > witness_cosignature.signed_at
            """,
            ("@size", cosignature.TreeSize), ("@witness", cosignature.Witness), ("@key", (long)cosignature.KeyId), ("@at", cosignature.SignedAt.ToUnixTimeSeconds()),
            ("@note", cosignature.Note), ("@line", cosignature.Line), ("@received", _ledger.Dialect.Timestamp(SqlDialect.Now())));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Every kept cosignature of the largest cosigned tree head, or none.</summary>
    public async Task<IReadOnlyList<StoredCosignature>> LatestAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _ledger.OpenConnectionAsync(cancellationToken);
        await using var command = SqlDialect.Command(connection, null,
            $"SELECT {Columns} FROM witness_cosignature WHERE tree_size = (SELECT MAX(tree_size) FROM witness_cosignature) ORDER BY witness, key_id");
        var result = new List<StoredCosignature>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new StoredCosignature(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                (uint)reader.GetInt64(3),
                DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(4)),
                reader.GetString(5)));
        }

        return result;
    }
}
