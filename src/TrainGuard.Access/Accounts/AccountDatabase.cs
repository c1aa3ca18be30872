using System.Globalization;

namespace TrainGuard.Access.Accounts;

/// <summary>
/// The node's accounts as <c>&lt;root&gt;/etc/passwd</c> and <c>&lt;root&gt;/etc/group</c> list them: user names by
/// uid, each user's primary group, and each group's members (the listed ones and those whose primary group it is).
/// A malformed line is skipped and a missing file read as empty, each recorded in <see cref="Problems"/>.
/// </summary>
public sealed class AccountDatabase
{
    private readonly Dictionary<uint, string> _userNames = [];
    private readonly Dictionary<string, uint> _userIds = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _groupNames = [];
    private readonly Dictionary<string, uint> _groupIds = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, SortedSet<string>> _members = [];
    private readonly List<string> _problems = [];

    /// <summary>Lines that could not be read, as <c>etc/passwd:3: reason</c>.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Every user name, sorted.</summary>
    public IEnumerable<string> Users => _userIds.Keys.Order(StringComparer.Ordinal);

    public static AccountDatabase Load(string root)
    {
        var db = new AccountDatabase();
        var primary = new List<(string User, uint Gid)>();
        ReadLines(Path.Combine(root, "etc", "group"), "etc/group", 4, (fields, where) =>
        {
            if (!TryId(fields[2], out var gid))
            {
                db._problems.Add($"{where}: gid '{fields[2]}' is not a number");
                return;
            }

            db._groupNames.TryAdd(gid, fields[0]);
            db._groupIds.TryAdd(fields[0], gid);
            var members = db.MembersOf(gid);
            foreach (var member in fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                members.Add(member);
            }
        }, db._problems);
        ReadLines(Path.Combine(root, "etc", "passwd"), "etc/passwd", 7, (fields, where) =>
        {
            if (!TryId(fields[2], out var uid) || !TryId(fields[3], out var gid))
            {
                db._problems.Add($"{where}: uid or gid is not a number");
                return;
            }

            db._userNames.TryAdd(uid, fields[0]);
            db._userIds.TryAdd(fields[0], uid);
            primary.Add((fields[0], gid));
        }, db._problems);
        foreach (var (user, gid) in primary)
        {
            db.MembersOf(gid).Add(user);
        }

        return db;
    }

    /// <summary>The user's name, or <c>uid N</c> for an id no passwd line names.</summary>
    public string UserName(uint uid) => _userNames.TryGetValue(uid, out var name) ? name : "uid " + uid.ToString(CultureInfo.InvariantCulture);

    /// <summary>The group's name, or <c>gid N</c>.</summary>
    public string GroupName(uint gid) => _groupNames.TryGetValue(gid, out var name) ? name : "gid " + gid.ToString(CultureInfo.InvariantCulture);

    public bool TryGetUid(string user, out uint uid) => _userIds.TryGetValue(user, out uid);

    public bool TryGetGid(string group, out uint gid) => _groupIds.TryGetValue(group, out gid);

    /// <summary>The members of a group: listed in etc/group or having it as their primary group.</summary>
    public IReadOnlyCollection<string> Members(uint gid) => _members.TryGetValue(gid, out var set) ? set : [];

    /// <summary>The members of a group by name (empty for an unknown group).</summary>
    public IReadOnlyCollection<string> Members(string group) => TryGetGid(group, out var gid) ? Members(gid) : [];

    private SortedSet<string> MembersOf(uint gid)
    {
        if (!_members.TryGetValue(gid, out var set))
        {
            set = new SortedSet<string>(StringComparer.Ordinal);
            _members[gid] = set;
        }

        return set;
    }

    private static bool TryId(string text, out uint id) => uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static void ReadLines(string path, string name, int minFields, Action<string[], string> onLine, List<string> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add($"{name}: missing, so accounts show as uid N and groups have no known members");
            return;
        }

        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split(':');
            var where = $"{name}:{number}";
            if (fields.Length < minFields || fields[0].Length == 0)
            {
                problems.Add($"{where}: expected {minFields} ':'-separated fields");
                continue;
            }

            onLine(fields, where);
        }
    }
}
