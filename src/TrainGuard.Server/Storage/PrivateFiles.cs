namespace TrainGuard.Server.Storage;

/// <summary>
/// The server's files are its owner's alone, whatever the umask: directories it creates are 0700, the SQLite database
/// (and so its <c>-wal</c> and <c>-shm</c> files, which SQLite creates with the database's mode) and keys 0600, set
/// when created; existing database files readable by others are narrowed to 0600.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode OthersAndGroup = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                                                UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) with mode 0700; an existing directory is left as it is.</summary>
    public static void CreateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    /// <summary>Creates an empty file with mode 0600 unless it exists.</summary>
    public static void CreateEmptyFile(string path)
    {
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        try
        {
            using var _ = new FileStream(path, options);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Already there (another process, or an earlier run).
        }
    }

    /// <summary>Takes the group's and others' permissions off an existing file; false when there was nothing to take.</summary>
    public static bool Restrict(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
        {
            return false;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & OthersAndGroup) == 0)
        {
            return false;
        }

        File.SetUnixFileMode(path, mode & ~OthersAndGroup);
        return true;
    }

    /// <summary>True when a directory's group or others have any permission on it.</summary>
    public static bool IsShared(string directory) =>
        !OperatingSystem.IsWindows() && Directory.Exists(directory) && (File.GetUnixFileMode(directory) & OthersAndGroup) != 0;
}
