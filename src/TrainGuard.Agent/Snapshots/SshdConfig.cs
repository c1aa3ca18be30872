using System.Globalization;
using System.IO.Enumeration;
using System.Text;
using TrainGuard.Agent.Common;

namespace TrainGuard.Agent.Snapshots;

/// <summary>What the node's sshd configuration says about where keys come from.</summary>
/// <param name="Files">Node paths of <c>sshd_config</c> and every file it includes, in reading order (watched as persistence files).</param>
/// <param name="AuthorizedKeysFiles">Every <c>AuthorizedKeysFile</c> pattern (from any section, <c>Match</c> blocks included), then sshd's defaults.</param>
public sealed record SshdConfigInfo(IReadOnlyList<string> Files, IReadOnlyList<string> AuthorizedKeysFiles);

/// <summary>
/// Reads <c>/etc/ssh/sshd_config</c> and the files its <c>Include</c> directives name (glob patterns, relative
/// ones under <c>/etc/ssh</c>, nested up to 16 deep) for the directives that decide which files grant a login:
/// <c>AuthorizedKeysFile</c> (tokens <c>%h</c>, <c>%u</c>, <c>%U</c>, <c>%%</c>; relative paths are under the
/// home folder). Patterns from <c>Match</c> blocks count for every account
/// (watching a file sshd does not use costs nothing; missing one it uses hides a key).
/// </summary>
public static class SshdConfig
{
    public const string MainPath = "/etc/ssh/sshd_config";

    /// <summary>sshd's built-in <c>AuthorizedKeysFile</c>.</summary>
    public static readonly IReadOnlyList<string> Defaults = [".ssh/authorized_keys", ".ssh/authorized_keys2"];

    private const int MaxDepth = 16;
    private const int MaxFiles = 256;
    private const long MaxFileBytes = 1024 * 1024;

    /// <param name="under">Maps a node path to the path on disk (the snapshot root).</param>
    public static SshdConfigInfo Read(Func<string, string> under, List<string> problems, string mainPath = MainPath)
    {
        var files = new List<string>();
        var patterns = new List<string>();
        ReadFile(mainPath, 0, under, files, patterns, problems);
        foreach (var fallback in Defaults)
        {
            if (!patterns.Contains(fallback, StringComparer.Ordinal))
            {
                patterns.Add(fallback);
            }
        }

        return new SshdConfigInfo(files, patterns);
    }

    /// <summary>
    /// The node path an <c>AuthorizedKeysFile</c> pattern names for <paramref name="account"/>, or null with a reason
    /// (an unknown <c>%</c> token; a relative path for an account without a usable home).
    /// </summary>
    public static string? Expand(string pattern, AccountState account, out string? error)
    {
        var sb = new StringBuilder(pattern.Length + 32);
        var home = account.Home.TrimEnd('/');
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] != '%')
            {
                sb.Append(pattern[i]);
                continue;
            }

            if (++i >= pattern.Length)
            {
                error = $"AuthorizedKeysFile '{pattern}' ends with a lone %";
                return null;
            }

            switch (pattern[i])
            {
                case '%':
                    sb.Append('%');
                    break;
                case 'h':
                    sb.Append(home);
                    break;
                case 'u':
                    sb.Append(account.Name);
                    break;
                case 'U':
                    sb.Append(account.Uid.ToString(CultureInfo.InvariantCulture));
                    break;
                default:
                    error = $"AuthorizedKeysFile '{pattern}' uses the unknown token %{pattern[i]}";
                    return null;
            }
        }

        var path = sb.ToString();
        if (!path.StartsWith('/'))
        {
            if (home.Length == 0 || home[0] != '/' || home == "/nonexistent")
            {
                error = null;
                return null;
            }

            path = home + "/" + path;
        }

        error = null;
        return path;
    }

    private static void ReadFile(string nodePath, int depth, Func<string, string> under, List<string> files, List<string> patterns, List<string> problems)
    {
        if (files.Contains(nodePath, StringComparer.Ordinal))
        {
            return;
        }

        if (depth > MaxDepth || files.Count >= MaxFiles)
        {
            problems.Add($"{nodePath}: sshd_config includes nest deeper than {MaxDepth} or name more than {MaxFiles} files; not read");
            return;
        }

        if (!UnixFile.TryOpenRegular(under(nodePath), followLinks: true, out var opened, out var refusal))
        {
            if (!refusal!.Missing)
            {
                problems.Add($"{nodePath}: cannot read ({refusal.Reason})");
            }

            return;
        }

        files.Add(nodePath);
        string text;
        using (opened)
        using (var stream = opened!.OpenStream())
        {
            var buffer = new byte[MaxFileBytes + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }

            if (total > MaxFileBytes)
            {
                problems.Add($"{nodePath}: larger than {MaxFileBytes} bytes; only its start was read for AuthorizedKeysFile");
                total = (int)MaxFileBytes;
            }

            text = Encoding.UTF8.GetString(buffer, 0, total);
        }

        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim(' ', '\t', '\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var end = line.IndexOfAny([' ', '\t', '=']);
            var keyword = end < 0 ? line : line[..end];
            var rest = end < 0 ? string.Empty : line[end..].TrimStart(' ', '\t', '=');
            var args = SplitArguments(rest);
            if (keyword.Equals("AuthorizedKeysFile", StringComparison.OrdinalIgnoreCase))
            {
                patterns.AddRange(args.Where(a => !a.Equals("none", StringComparison.OrdinalIgnoreCase) && !patterns.Contains(a, StringComparer.Ordinal)));
            }
            else if (keyword.Equals("Include", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var arg in args)
                {
                    var pattern = arg.StartsWith('/') ? arg : "/etc/ssh/" + arg;
                    foreach (var included in Glob(pattern, under))
                    {
                        ReadFile(included, depth + 1, under, files, patterns, problems);
                    }
                }
            }
        }
    }

    /// <summary>Whitespace-separated arguments; double quotes group (as sshd's argv_split).</summary>
    private static List<string> SplitArguments(string text)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in text)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (!quoted && c is ' ' or '\t')
            {
                if (any)
                {
                    args.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (any)
        {
            args.Add(current.ToString());
        }

        return args;
    }

    /// <summary>Node paths matching a pattern with <c>*</c> and <c>?</c> in any component, sorted as glob(3) sorts them.</summary>
    private static List<string> Glob(string pattern, Func<string, string> under)
    {
        var matches = new List<string> { string.Empty };
        foreach (var part in pattern.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = new List<string>();
            foreach (var prefix in matches)
            {
                if (part.AsSpan().IndexOfAny('*', '?') < 0)
                {
                    next.Add(prefix + "/" + part);
                    continue;
                }

                try
                {
                    var dir = under(prefix.Length == 0 ? "/" : prefix);
                    next.AddRange(Directory.EnumerateFileSystemEntries(dir)
                        .Select(Path.GetFileName)
                        .Where(name => name is not null && !name.StartsWith('.') && FileSystemName.MatchesSimpleExpression(part, name, ignoreCase: false))
                        .Order(StringComparer.Ordinal)
                        .Select(name => prefix + "/" + name));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A folder that cannot be listed includes nothing (sshd does the same).
                }
            }

            matches = next.Take(MaxFiles).ToList();
        }

        return matches.Where(m => m.Length > 0).ToList();
    }
}
