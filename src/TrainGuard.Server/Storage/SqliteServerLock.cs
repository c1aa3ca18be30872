namespace TrainGuard.Server.Storage;

/// <summary>
/// A SQLite ledger serves one server: the server holds an exclusive lock on <c>DATABASE.server-lock</c> beside the
/// database file while it runs, so a second server pointed at the same file stops at once with a clear error instead
/// of waiting on the database's write lock. (Several servers share a PostgreSQL database; see docs/server.md.)
/// </summary>
public sealed class SqliteServerLock : IDisposable
{
    private readonly FileStream _stream;

    private SqliteServerLock(FileStream stream)
    {
        _stream = stream;
    }

    /// <summary>Takes the lock of the SQLite database at <paramref name="databasePath"/>.</summary>
    /// <exception cref="InvalidOperationException">Another server (this process or another) holds it.</exception>
    public static SqliteServerLock Acquire(string databasePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        var path = Path.GetFullPath(databasePath) + ".server-lock";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = PrivateFiles.FileMode;
            }

            return new SqliteServerLock(new FileStream(path, options));
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"another trainguard server is already running on the SQLite database {Path.GetFullPath(databasePath)} (it holds {path}): " +
                "a SQLite ledger serves one server; to run several servers, put the ledger in PostgreSQL (docs/server.md, \"Several servers on PostgreSQL\")",
                ex);
        }
    }

    public void Dispose() => _stream.Dispose();
}
