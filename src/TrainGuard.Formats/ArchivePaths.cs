namespace TrainGuard.Formats;

/// <summary>Checks on member names shared by the archive readers (zip, tar, 7z).</summary>
public static class ArchivePaths
{
    /// <summary>
    /// True when extracting a member with this name would leave the extraction folder: a <c>..</c> segment,
    /// an absolute path (<c>/x</c>, <c>\x</c>, <c>C:x</c>), or a NUL / control character that truncates or
    /// forges the name in another tool.
    /// </summary>
    public static bool IsUnsafe(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        if (name[0] is '/' or '\\' || (name.Length >= 2 && name[1] == ':' && char.IsAsciiLetter(name[0])))
        {
            return true;
        }

        foreach (var ch in name)
        {
            if (char.IsControl(ch))
            {
                return true;
            }
        }

        foreach (var segment in name.Split('/', '\\'))
        {
            if (segment == "..")
            {
                return true;
            }
        }

        return false;
    }
}
