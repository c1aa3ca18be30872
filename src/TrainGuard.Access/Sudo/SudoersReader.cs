using System.Text;
using TrainGuard.Access.Accounts;

namespace TrainGuard.Access.Sudo;

/// <summary>
/// One sudo permission that lets <see cref="Account"/> write files: it may run <see cref="Command"/> (ALL, a shell,
/// an editor, tee, cp, install...) as one of <see cref="RunAs"/> (<c>*</c>: any account, root included).
/// </summary>
/// <param name="Account">A user name, or <c>*</c> for every account.</param>
/// <param name="Via">How the rule names the account when not by name (<c>group ml-admins</c>), else null.</param>
/// <param name="Source">Where the rule is, <c>etc/sudoers.d/ml:3</c>.</param>
public sealed record SudoGrant(string Account, string? Via, IReadOnlySet<string> RunAs, string Command, string Source)
{
    public bool AsRoot => RunAs.Contains("*") || RunAs.Contains("root");
}

/// <summary>A sudoers line that was not understood: reported, never ignored.</summary>
public sealed record SudoersProblem(string Source, string Line, string Reason);

/// <summary>The grants and the problems found in the sudoers files of a root.</summary>
public sealed record SudoRules(IReadOnlyList<SudoGrant> Grants, IReadOnlyList<SudoersProblem> Problems);

/// <summary>
/// Reads <c>&lt;root&gt;/etc/sudoers</c> and every file of <c>&lt;root&gt;/etc/sudoers.d</c> (sudo's own rules: names
/// with a dot or ending in <c>~</c> are skipped) for rules that let an account write files as another: a command of
/// ALL, a shell, an editor or a file-writing tool. The subset of the grammar read: comments and line continuations,
/// <c>Defaults</c> (ignored), <c>#include</c>/<c>@include</c> of a file, <c>User_Alias</c>, <c>Runas_Alias</c>,
/// <c>Host_Alias</c>, <c>Cmnd_Alias</c>, and user specifications <c>USERS HOSTS = [(RUNAS[:GROUPS])] [TAG:]... COMMAND,
/// ...</c> with users as names, <c>%group</c>, <c>#uid</c>, <c>%#gid</c>, <c>ALL</c> or aliases. Hosts are not
/// checked (a rule for any host is assumed to apply here). Negated entries never remove access. Anything else is a
/// <see cref="SudoersProblem"/>.
/// </summary>
public sealed class SudoersReader
{
    private const int MaxIncludeDepth = 8;

    /// <summary>Programs that let whoever runs them write any file the account they run as can write.</summary>
    private static readonly HashSet<string> WritingPrograms = new(StringComparer.Ordinal)
    {
        "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "su", "sudo", "sudoedit", "env", "script",
        "vi", "vim", "nvim", "view", "rvim", "nano", "pico", "emacs", "ed", "joe", "mcedit", "less", "more",
        "tee", "cp", "mv", "install", "dd", "rsync", "ln", "chmod", "chown", "chgrp", "setfacl", "tar", "unzip", "sed",
        "find", "python", "python3", "perl", "ruby", "node", "git", "pip", "pip3", "docker", "systemd-run", "truncate",
    };

    private readonly string _root;
    private readonly AccountDatabase _accounts;
    private readonly Dictionary<string, List<string>> _userAliases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _runasAliases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _cmndAliases = new(StringComparer.Ordinal);
    private readonly List<SudoGrant> _grants = [];
    private readonly List<SudoersProblem> _problems = [];

    private SudoersReader(string root, AccountDatabase accounts)
    {
        _root = root;
        _accounts = accounts;
    }

    public static SudoRules Read(string root, AccountDatabase accounts)
    {
        var reader = new SudoersReader(root, accounts);
        reader.ReadFile(Path.Combine(root, "etc", "sudoers"), 0);
        var folder = Path.Combine(root, "etc", "sudoers.d");
        if (Directory.Exists(folder))
        {
            foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (!name.Contains('.', StringComparison.Ordinal) && !name.EndsWith('~'))
                {
                    reader.ReadFile(file, 0);
                }
            }
        }

        return new SudoRules(reader._grants, reader._problems);
    }

    /// <summary>Whether running <paramref name="command"/> lets its user write files (ALL, a shell, an editor...).</summary>
    public static bool Writes(string command)
    {
        var program = command.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first : command;
        if (program is "ALL" || program.Contains('*', StringComparison.Ordinal) || program.Contains('?', StringComparison.Ordinal))
        {
            return true;
        }

        var name = program[(program.LastIndexOf('/') + 1)..];
        var bare = name.TrimEnd('.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
        return WritingPrograms.Contains(name) || WritingPrograms.Contains(bare);
    }

    private void ReadFile(string path, int depth)
    {
        if (!File.Exists(path))
        {
            return;
        }

        var shown = Path.GetRelativePath(_root, path).Replace('\\', '/');
        var number = 0;
        var start = 0;
        var pending = new StringBuilder();
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            if (pending.Length == 0)
            {
                start = number;
            }

            if (raw.EndsWith('\\'))
            {
                pending.Append(raw, 0, raw.Length - 1).Append(' ');
                continue;
            }

            pending.Append(raw);
            var line = pending.ToString();
            pending.Clear();
            ReadLine(line, $"{shown}:{start}", depth);
        }
    }

    private void ReadLine(string raw, string source, int depth)
    {
        var line = raw.Trim();
        if (line.StartsWith("#include", StringComparison.Ordinal) || line.StartsWith("@include", StringComparison.Ordinal))
        {
            Include(line, source, depth);
            return;
        }

        line = StripComment(line).Trim();
        if (line.Length == 0 || line.StartsWith("Defaults", StringComparison.Ordinal))
        {
            return;
        }

        var keyword = line.Split(' ', 2)[0];
        var aliases = keyword switch
        {
            "User_Alias" => _userAliases,
            "Runas_Alias" => _runasAliases,
            "Cmnd_Alias" or "Cmd_Alias" => _cmndAliases,
            "Host_Alias" => new Dictionary<string, List<string>>(StringComparer.Ordinal),
            _ => null,
        };
        if (aliases is not null)
        {
            ReadAliases(line[keyword.Length..], aliases, raw, source);
            return;
        }

        ReadUserSpec(line, raw, source);
    }

    private void Include(string line, string source, int depth)
    {
        var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2)
        {
            _problems.Add(new SudoersProblem(source, line, "include without a path"));
            return;
        }

        var target = Path.Combine(_root, parts[1].TrimStart('/'));
        if (parts[0].EndsWith("includedir", StringComparison.Ordinal))
        {
            if (Path.GetFullPath(target) != Path.GetFullPath(Path.Combine(_root, "etc", "sudoers.d")))
            {
                _problems.Add(new SudoersProblem(source, line, "includedir of a folder other than /etc/sudoers.d is not read"));
            }

            return;
        }

        if (depth >= MaxIncludeDepth || parts[1].Contains("%h", StringComparison.Ordinal))
        {
            _problems.Add(new SudoersProblem(source, line, depth >= MaxIncludeDepth ? "includes nested too deep" : "include with a host name escape is not read"));
            return;
        }

        ReadFile(target, depth + 1);
    }

    private static string StripComment(string line)
    {
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '\\')
            {
                i++;
            }
            else if (line[i] == '#' && !(i + 1 < line.Length && char.IsAsciiDigit(line[i + 1])))
            {
                return line[..i];
            }
        }

        return line;
    }

    private void ReadAliases(string body, Dictionary<string, List<string>> aliases, string raw, string source)
    {
        foreach (var definition in SplitTop(body, ':'))
        {
            var equals = definition.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? definition[..equals].Trim() : string.Empty;
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                _problems.Add(new SudoersProblem(source, raw.Trim(), "alias definition is not NAME = item, ..."));
                continue;
            }

            aliases[name] = SplitTop(definition[(equals + 1)..], ',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
        }
    }

    private void ReadUserSpec(string line, string raw, string source)
    {
        var equals = line.IndexOf('=', StringComparison.Ordinal);
        var left = equals > 0 ? NormalizeCommas(line[..equals]).Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        if (left.Length != 2)
        {
            _problems.Add(new SudoersProblem(source, raw.Trim(), "not a Defaults line, an alias or a rule USERS HOSTS = COMMANDS"));
            return;
        }

        if (SplitTop(line[(equals + 1)..], ':').Skip(1).Any(rest => rest.Split('=') is [var hosts, _, ..] && hosts.Trim().Length > 0 && !hosts.Trim().Contains(' ', StringComparison.Ordinal)))
        {
            _problems.Add(new SudoersProblem(source, raw.Trim(), "several HOSTS = COMMANDS parts on one line are not read; write one rule per line"));
            return;
        }

        var users = ExpandUsers(left[0].Split(',', StringSplitOptions.RemoveEmptyEntries), source, raw, 0).ToList();
        IReadOnlySet<string> runAs = new HashSet<string>(StringComparer.Ordinal) { "root" };
        foreach (var spec in SplitTop(line[(equals + 1)..], ','))
        {
            var text = spec.Trim();
            if (text.StartsWith('('))
            {
                var close = text.IndexOf(')', StringComparison.Ordinal);
                if (close < 0)
                {
                    _problems.Add(new SudoersProblem(source, raw.Trim(), "run-as list without ')'"));
                    return;
                }

                runAs = RunAsUsers(text[1..close]);
                text = text[(close + 1)..].Trim();
            }

            text = StripTags(text);
            foreach (var command in ExpandCommands(text, 0))
            {
                if (Writes(command))
                {
                    foreach (var (account, via) in users)
                    {
                        _grants.Add(new SudoGrant(account, via, runAs, command, source));
                    }
                }
            }
        }
    }

    private static string NormalizeCommas(string text)
    {
        var normalized = text.Trim();
        while (normalized.Contains(", ", StringComparison.Ordinal) || normalized.Contains(" ,", StringComparison.Ordinal))
        {
            normalized = normalized.Replace(", ", ",", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal);
        }

        return normalized;
    }

    private static string StripTags(string text)
    {
        while (true)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !text[..colon].All(c => char.IsAsciiLetterUpper(c) || c == '_'))
            {
                return text;
            }

            text = text[(colon + 1)..].Trim();
        }
    }

    private HashSet<string> RunAsUsers(string list)
    {
        var users = list.Split(':', 2)[0];
        var result = new HashSet<string>(StringComparer.Ordinal);
        if (users.Trim().Length == 0)
        {
            // (:group) runs as the invoking user with another group: no other account's files.
            return result;
        }

        foreach (var item in Expand(users.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), _runasAliases, 0))
        {
            if (item.StartsWith('!'))
            {
                continue;
            }

            if (item is "ALL")
            {
                result.Add("*");
            }
            else if (item.StartsWith('%'))
            {
                result.UnionWith(_accounts.Members(item.TrimStart('%')));
            }
            else if (item.StartsWith('#') && uint.TryParse(item.AsSpan(1), out var uid))
            {
                result.Add(_accounts.UserName(uid));
            }
            else
            {
                result.Add(item);
            }
        }

        return result;
    }

    private IEnumerable<(string Account, string? Via)> ExpandUsers(IEnumerable<string> items, string source, string raw, int depth)
    {
        foreach (var item in Expand(items, _userAliases, depth))
        {
            if (item.StartsWith('!'))
            {
                continue;
            }

            if (item is "ALL")
            {
                yield return ("*", null);
            }
            else if (item.StartsWith("%#", StringComparison.Ordinal) && uint.TryParse(item.AsSpan(2), out var gid))
            {
                foreach (var member in _accounts.Members(gid))
                {
                    yield return (member, "group " + _accounts.GroupName(gid));
                }
            }
            else if (item.StartsWith('%') || item.StartsWith('+'))
            {
                var group = item.TrimStart('%', ':', '+');
                foreach (var member in _accounts.Members(group))
                {
                    yield return (member, "group " + group);
                }
            }
            else if (item.StartsWith('#') && uint.TryParse(item.AsSpan(1), out var uid))
            {
                yield return (_accounts.UserName(uid), null);
            }
            else if (item.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '$'))
            {
                yield return (item, null);
            }
            else
            {
                _problems.Add(new SudoersProblem(source, raw.Trim(), $"user '{item}' not understood"));
            }
        }
    }

    private IEnumerable<string> ExpandCommands(string text, int depth) =>
        text.StartsWith('!') ? [] : Expand([text.Trim()], _cmndAliases, depth);

    private static IEnumerable<string> Expand(IEnumerable<string> items, Dictionary<string, List<string>> aliases, int depth)
    {
        foreach (var item in items)
        {
            if (depth < MaxIncludeDepth && aliases.TryGetValue(item, out var members))
            {
                foreach (var member in Expand(members, aliases, depth + 1))
                {
                    yield return member;
                }
            }
            else
            {
                yield return item;
            }
        }
    }

    /// <summary>Splits on <paramref name="separator"/> outside parentheses and after no backslash.</summary>
    private static List<string> SplitTop(string text, char separator)
    {
        var parts = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '\\':
                    i++;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    depth = Math.Max(0, depth - 1);
                    break;
                default:
                    if (text[i] == separator && depth == 0)
                    {
                        parts.Add(text[start..i]);
                        start = i + 1;
                    }

                    break;
            }
        }

        parts.Add(text[start..]);
        return parts;
    }
}
