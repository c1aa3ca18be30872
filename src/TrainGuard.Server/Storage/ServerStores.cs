namespace TrainGuard.Server.Storage;

/// <summary>
/// Opens the store a <c>--db</c> value names: <c>sqlite:PATH</c>, <c>postgresql:CONNECTION-STRING</c> (also
/// <c>postgres:</c>), or a bare Npgsql connection string such as <c>Host=db;Database=trainguard;Username=tg</c>.
/// </summary>
public static class ServerStores
{
    public const string DefaultDatabaseFile = "trainguard.db";

    /// <summary>The <c>--db</c> value used when none is given: the SQLite file in the data directory.</summary>
    public static string DefaultSpec(string dataDirectory) => "sqlite:" + Path.Combine(dataDirectory, DefaultDatabaseFile);

    /// <summary>The SQLite file a <c>--db</c> value names, or null when it names PostgreSQL.</summary>
    public static string? SqlitePath(string spec) =>
        spec.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) && spec.Length > "sqlite:".Length ? spec["sqlite:".Length..] : null;

    public static async Task<IServerStore> OpenAsync(string spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        if (spec.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = spec["sqlite:".Length..];
            if (path.Length == 0)
            {
                throw new ArgumentException("--db sqlite: needs a file path, e.g. sqlite:/var/lib/trainguard/trainguard.db", nameof(spec));
            }

            return await SqliteServerStore.OpenAsync(path, cancellationToken);
        }

        foreach (var prefix in new[] { "postgresql:", "postgres:", "pg:" })
        {
            if (spec.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && !spec.StartsWith(prefix + "//", StringComparison.OrdinalIgnoreCase))
            {
                return await PostgresServerStore.OpenAsync(spec[prefix.Length..], cancellationToken);
            }
        }

        if (spec.Contains('=', StringComparison.Ordinal))
        {
            return await PostgresServerStore.OpenAsync(spec, cancellationToken);
        }

        throw new ArgumentException($"--db: '{spec}' is neither sqlite:PATH nor a PostgreSQL connection string (Host=...;Database=...)", nameof(spec));
    }
}
