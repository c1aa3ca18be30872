using System.Data.Common;
using System.Globalization;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// The few SQL differences between the SQLite and PostgreSQL stores that the shared code has to know: row locking and
/// how a timestamp is stored. Everything else (table and column names, <c>@name</c> parameters, <c>RETURNING</c>) is
/// written once in <see cref="SqlLedgerStore"/> and the server's stores.
/// </summary>
public abstract class SqlDialect
{
    /// <summary>SQLite: timestamps as ISO 8601 text, no row locks (the writer holds the database's write lock).</summary>
    public static SqlDialect Sqlite { get; } = new SqliteDialect();

    /// <summary>PostgreSQL: <c>timestamptz</c> columns, <c>SELECT ... FOR UPDATE</c> to lock the ledger head.</summary>
    public static SqlDialect Postgres { get; } = new PostgresDialect();

    /// <summary>Appended to a <c>SELECT</c> of a row the transaction will update (empty where the dialect needs none).</summary>
    public abstract string LockRowSuffix { get; }

    /// <summary>The parameter value that stores <paramref name="value"/> in a timestamp column.</summary>
    public abstract object Timestamp(DateTimeOffset value);

    /// <summary>Reads a timestamp column.</summary>
    public abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    /// <summary>Now, to the microsecond (the precision PostgreSQL keeps), so what a store returns is what it reads back.</summary>
    public static DateTimeOffset Now()
    {
        var now = DateTimeOffset.UtcNow;
        return now.AddTicks(-(now.Ticks % (TimeSpan.TicksPerMillisecond / 1000)));
    }

    /// <summary>Adds a parameter bound by name (<c>@name</c> in the SQL) to <paramref name="command"/>; null binds SQL NULL.</summary>
    public static void Add(DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    /// <summary>A command on <paramref name="connection"/> (inside <paramref name="transaction"/> when given) with its parameters.</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            Add(command, name, value);
        }

        return command;
    }

    private sealed class SqliteDialect : SqlDialect
    {
        public override string LockRowSuffix => string.Empty;

        public override object Timestamp(DateTimeOffset value) => value.ToString("O", CultureInfo.InvariantCulture);

        public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) =>
            DateTimeOffset.Parse(reader.GetString(ordinal), CultureInfo.InvariantCulture);
    }

    private sealed class PostgresDialect : SqlDialect
    {
        public override string LockRowSuffix => " FOR UPDATE";

        public override object Timestamp(DateTimeOffset value) => value.ToUniversalTime();

        public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
    }
}
