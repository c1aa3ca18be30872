using System.Globalization;
using TrainGuard.Events;

namespace TrainGuard.Agent.Common;

/// <summary>
/// Who owns the file an event is about: <c>file.uid</c>, <c>file.gid</c> and, from the node's accounts,
/// <c>file.owner</c>/<c>file.group</c>. A finding found on disk by a command (<c>env verify</c>, <c>ckpt check</c>)
/// carries no actor; the owner of the file it names is the account that wrote it unless someone changed the owner,
/// and the server names that account on the alert when no audit event names the writer (docs/alerts.md).
/// </summary>
public static class FileOwnership
{
    /// <summary>
    /// Adds the owner of <paramref name="path"/> (followed through links, as a loader would) to <paramref name="e"/>,
    /// unless the event already names one or the file cannot be examined (gone, unreadable folder): then nothing is added.
    /// </summary>
    public static EventRecord Describe(EventRecord e, string? path, IAccountNames? names)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (path is null || e.Has("file.uid") || !UnixFile.TryStat(path, out var status, out _))
        {
            return e;
        }

        e.Set("file.uid", status.Uid.ToString(CultureInfo.InvariantCulture));
        e.Set("file.gid", status.Gid.ToString(CultureInfo.InvariantCulture));
        e.Set("file.owner", names?.UserName(status.Uid));
        e.Set("file.group", names?.GroupName(status.Gid));
        return e;
    }

    /// <summary>The file a finding event is about: its finding's location, else <c>file.path</c>.</summary>
    public static string? FindingFile(EventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.GetString("trainguard.finding.location.file") ?? e.GetString("file.path");
    }

    /// <summary>The accounts of the node whose file system is at <paramref name="root"/>, or null when its passwd cannot be read.</summary>
    public static PasswdFile? NodeAccounts(string root = "/")
    {
        try
        {
            return PasswdFile.Load(Path.Join(root, "etc/passwd"), Path.Join(root, "etc/group"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
