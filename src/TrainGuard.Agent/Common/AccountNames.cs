namespace TrainGuard.Agent.Common;

/// <summary>Resolves numeric user ids to account names (raw audit logs carry only numbers).</summary>
public interface IAccountNames
{
    /// <summary>The account name for <paramref name="uid"/>, or null when unknown.</summary>
    string? UserName(long uid);

    /// <summary>The group name for <paramref name="gid"/>, or null when unknown.</summary>
    string? GroupName(long gid);

    /// <summary>
    /// The account most recently added with <paramref name="uid"/>: the last of several lines with one uid, since
    /// <c>useradd -o</c> appends, while <see cref="UserName"/> (like getpwuid and auditd's enrichment) answers the first.
    /// </summary>
    string? NewestUserName(long uid) => UserName(uid);
}

/// <summary>One line of <c>/etc/passwd</c>.</summary>
public sealed record PasswdEntry(string Name, long Uid, long Gid, string Home, string Shell);

/// <summary>
/// Account names from <c>/etc/passwd</c> and <c>/etc/group</c> text. Malformed lines are skipped
/// (and counted); with duplicate uids (a second uid 0 account is a classic backdoor) the first
/// line wins for name lookups, as getpwuid does, while <see cref="Entries"/> keeps them all.
/// </summary>
public sealed class PasswdFile : IAccountNames
{
    private readonly Dictionary<long, string> _users = [];
    private readonly Dictionary<long, string> _newestUsers = [];
    private readonly Dictionary<long, string> _groups = [];

    private PasswdFile(List<PasswdEntry> entries, int skipped)
    {
        Entries = entries;
        SkippedLines = skipped;
        foreach (var entry in entries)
        {
            _users.TryAdd(entry.Uid, entry.Name);
            _newestUsers[entry.Uid] = entry.Name;
        }
    }

    public IReadOnlyList<PasswdEntry> Entries { get; }

    /// <summary>Lines that were not <c>name:pw:uid:gid:gecos:home:shell</c>.</summary>
    public int SkippedLines { get; private set; }

    /// <summary>Parses passwd text and, optionally, group text (<c>name:pw:gid:members</c>).</summary>
    public static PasswdFile Parse(string passwdText, string? groupText = null)
    {
        var entries = new List<PasswdEntry>();
        var skipped = 0;
        foreach (var rawLine in passwdText.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split(':');
            if (parts.Length != 7 || parts[0].Length == 0 || !long.TryParse(parts[2], out var uid) || !long.TryParse(parts[3], out var gid) || uid < 0 || gid < 0)
            {
                skipped++;
                continue;
            }

            entries.Add(new PasswdEntry(parts[0], uid, gid, parts[5], parts[6]));
        }

        var file = new PasswdFile(entries, skipped);
        if (groupText is not null)
        {
            foreach (var rawLine in groupText.Split('\n'))
            {
                var parts = rawLine.TrimEnd('\r').Split(':');
                if (parts.Length == 4 && parts[0].Length > 0 && long.TryParse(parts[2], out var gid) && gid >= 0)
                {
                    file._groups.TryAdd(gid, parts[0]);
                }
                else if (rawLine.Trim().Length > 0)
                {
                    file.SkippedLines++;
                }
            }
        }

        return file;
    }

    /// <summary>Reads <c>/etc/passwd</c> (and <c>/etc/group</c> when present) from the given paths.</summary>
    public static PasswdFile Load(string passwdPath = "/etc/passwd", string? groupPath = "/etc/group") =>
        Parse(File.ReadAllText(passwdPath), groupPath is not null && File.Exists(groupPath) ? File.ReadAllText(groupPath) : null);

    /// <summary>
    /// Fuzz target: passwd text, then (after a NUL byte, when there is one) group text; parsing and every lookup
    /// throw nothing (bad lines are skipped and counted).
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var nul = data.IndexOf((byte)0);
        var passwd = System.Text.Encoding.UTF8.GetString(nul < 0 ? data : data[..nul]);
        var group = nul < 0 ? null : System.Text.Encoding.UTF8.GetString(data[(nul + 1)..]);
        var file = Parse(passwd, group);
        foreach (var entry in file.Entries)
        {
            _ = file.UserName(entry.Uid);
            _ = file.GroupName(entry.Gid);
        }
    }

    public string? UserName(long uid) => _users.GetValueOrDefault(uid);

    public string? GroupName(long gid) => _groups.GetValueOrDefault(gid);

    public string? NewestUserName(long uid) => _newestUsers.GetValueOrDefault(uid);
}
