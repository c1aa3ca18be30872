using Microsoft.Data.Sqlite;
using Npgsql;

namespace TrainGuard.Server.Tests.Support;

/// <summary>Direct SQL on a test store, the way an attacker with database access would change it.</summary>
public static class Database
{
    public static async Task ExecuteAsync(string spec, string sql)
    {
        if (spec.StartsWith("sqlite:", StringComparison.Ordinal))
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = spec["sqlite:".Length..], Pooling = false }.ToString());
            await connection.OpenAsync();
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
            return;
        }

        await using var dataSource = NpgsqlDataSource.Create(spec["postgresql:".Length..]);
        await using var pg = dataSource.CreateCommand(sql);
        await pg.ExecuteNonQueryAsync();
    }

    /// <summary>SQL for a BLOB/bytea literal of <paramref name="bytes"/> in the store's dialect.</summary>
    public static string Blob(string spec, byte[] bytes) => spec.StartsWith("sqlite:", StringComparison.Ordinal)
        ? $"X'{Convert.ToHexString(bytes)}'"
        : $"'\\x{Convert.ToHexString(bytes)}'::bytea";
}
