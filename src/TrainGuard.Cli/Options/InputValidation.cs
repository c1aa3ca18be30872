using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Options;

/// <summary>
/// The checks every verb applies to what it is given, with one wording: a path or name that matches nothing is a
/// usage error (exit 2) that says what was looked for, never an empty success.
/// </summary>
public static class InputValidation
{
    /// <summary>The full path of an existing file, or null when the option was not given.</summary>
    public static string? ExistingFile(FileInfo? file, string option)
    {
        if (file is null)
        {
            return null;
        }

        return file.Exists ? file.FullName : throw new CliException($"{option}: file {file.FullName} does not exist");
    }

    /// <summary>The full path of an existing file given as text.</summary>
    public static string ExistingFile(string path, string what) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw new CliException($"{what}: file {Path.GetFullPath(path)} does not exist");

    /// <summary>Every folder must exist.</summary>
    public static List<string> ExistingFolders(string[]? folders, string option)
    {
        var list = folders ?? [];
        foreach (var folder in list)
        {
            if (!Directory.Exists(folder))
            {
                throw new CliException($"{option}: folder {Path.GetFullPath(folder)} does not exist");
            }
        }

        return [.. list];
    }

    /// <summary>The full path of an existing file or folder (trailing slash removed).</summary>
    public static string ExistingPath(string value, string what)
    {
        var full = Path.GetFullPath(value);
        return File.Exists(full) || Directory.Exists(full) ? Path.TrimEndingDirectorySeparator(full) : throw new CliException($"{what}: no such file or folder: {full}");
    }

    /// <summary>Every path must exist (as given, so reports name them as the user wrote them).</summary>
    public static void ExistingPaths(IEnumerable<string> paths, string what)
    {
        foreach (var path in paths)
        {
            if (!File.Exists(path) && !Directory.Exists(path) && !IsDanglingLink(path))
            {
                throw new CliException($"{what}: no such file or folder: {Path.GetFullPath(path)}");
            }
        }
    }

    /// <summary>The folder a file will be written to must exist (nothing is created behind the user's back).</summary>
    public static string WritableFile(string path, string option)
    {
        var full = Path.GetFullPath(path);
        if (Path.GetDirectoryName(full) is { } folder && !Directory.Exists(folder))
        {
            throw new CliException($"{option}: folder {folder} does not exist");
        }

        return full;
    }

    /// <summary>An absolute http(s) URL.</summary>
    public static Uri HttpUrl(string value, string option) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new CliException($"{option}: '{value}' is not an http(s) URL");

    /// <summary>A ledger verifier key given inline or as a file holding it.</summary>
    public static NoteVerifier LogKey(string value, string option = "--log-key")
    {
        var text = File.Exists(value) ? File.ReadAllText(value).Trim() : value.Trim();
        try
        {
            return NoteVerifier.Parse(text);
        }
        catch (MalformedInputException ex)
        {
            var hint = text.Contains('/', StringComparison.Ordinal) && !text.Contains('+', StringComparison.Ordinal) ? $" (and no file {Path.GetFullPath(text)} exists)" : string.Empty;
            throw new CliException($"{option}: {ex.Message}{hint}", ex);
        }
    }

    private static bool IsDanglingLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
