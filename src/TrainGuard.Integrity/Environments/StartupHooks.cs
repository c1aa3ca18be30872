using System.Text;
using System.Text.RegularExpressions;

namespace TrainGuard.Integrity.Environments;

/// <summary>What kind of interpreter-startup hook a file is.</summary>
public enum StartupHookKind
{
    /// <summary>A <c>.pth</c> file with lines starting with <c>import</c>: <c>site.py</c> passes them to <c>exec()</c>.</summary>
    PthImportLine,

    /// <summary>A <c>sitecustomize</c> or <c>usercustomize</c> module, imported at every start.</summary>
    CustomizeModule,

    /// <summary>A Python 3.15+ <c>&lt;name&gt;.start</c> file (PEP 829): <c>pkg.mod:callable</c> entry points called at start.</summary>
    StartEntryPoint,
}

/// <summary>Reads startup hooks without executing anything: which lines of a .pth or .start file would run.</summary>
public static partial class StartupHooks
{
    public const int MaxHookFileSize = 1 << 20;

    /// <summary>
    /// Known benign .pth hooks, by file name and the exact code they run (whitespace-normalised). They are
    /// reported at info level only when the owning package's RECORD or dpkg md5sums vouches for the bytes.
    /// </summary>
    internal static readonly (Regex Name, Regex Code, string Why)[] Allowlist =
    [
        (DistutilsPrecedenceName(), DistutilsPrecedenceCode(), "setuptools' distutils-precedence.pth (selects setuptools' bundled distutils)"),
        (VirtualenvName(), VirtualenvCode(), "virtualenv's _virtualenv.pth (patches distutils for virtualenvs)"),
        (EditableName(), EditableCode(), "an editable install's finder (pip install -e)"),
    ];

    /// <summary>True when <paramref name="line"/> is executed by <c>site.addpackage</c>: it starts with <c>import </c> or <c>import\t</c>.</summary>
    public static bool IsExecutablePthLine(string line) => line.StartsWith("import ", StringComparison.Ordinal) || line.StartsWith("import\t", StringComparison.Ordinal);

    /// <summary>The executed lines of a .pth file, with their 1-based line numbers. Comments and path lines are skipped.</summary>
    public static IReadOnlyList<(int Line, string Code)> ExecutableLines(ReadOnlySpan<byte> content)
    {
        var result = new List<(int, string)>();
        var text = DecodeUtf8Sig(content);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (IsExecutablePthLine(line))
            {
                result.Add((number, line.TrimEnd()));
            }
        }

        return result;
    }

    /// <summary>The entry points a PEP 829 .start file would call (<c>pkg.mod:callable</c>), with line numbers; comments and blanks skipped.</summary>
    public static IReadOnlyList<(int Line, string Code)> StartEntryPoints(ReadOnlySpan<byte> content)
    {
        var result = new List<(int, string)>();
        var number = 0;
        foreach (var raw in DecodeUtf8Sig(content).Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            result.Add((number, line));
        }

        return result;
    }

    /// <summary>Returns the allowlist explanation when this .pth file's name and every executed line are a known benign hook.</summary>
    public static string? MatchAllowlist(string fileName, IReadOnlyList<(int Line, string Code)> lines)
    {
        foreach (var (name, code, why) in Allowlist)
        {
            if (name.IsMatch(fileName) && lines.Count > 0 && lines.All(l => code.IsMatch(Normalize(l.Code))))
            {
                return why;
            }
        }

        return null;
    }

    /// <summary>True for file names site.py would read as a .pth (not hidden).</summary>
    public static bool IsPthFileName(string name) => name.EndsWith(".pth", StringComparison.Ordinal) && !name.StartsWith('.');

    public static bool IsStartFileName(string name) => name.EndsWith(".start", StringComparison.Ordinal) && !name.StartsWith('.');

    /// <summary>True for module files Python imports as sitecustomize/usercustomize (source, byte-code or extension).</summary>
    public static bool IsCustomizeModuleName(string name)
    {
        foreach (var stem in (ReadOnlySpan<string>)["sitecustomize", "usercustomize"])
        {
            if (name == stem || (name.StartsWith(stem + ".", StringComparison.Ordinal) && (name.EndsWith(".py", StringComparison.Ordinal) || name.EndsWith(".pyc", StringComparison.Ordinal) || name.EndsWith(".so", StringComparison.Ordinal))))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first lines of a module's code, for the finding's evidence.</summary>
    public static string Excerpt(ReadOnlySpan<byte> content, int maxLines = 12, int maxChars = 800)
    {
        var text = DecodeUtf8Sig(content);
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).Take(maxLines);
        var excerpt = string.Join("\n", lines);
        return excerpt.Length > maxChars ? excerpt[..maxChars] + "…" : excerpt;
    }

    /// <summary>
    /// Fuzz target: the first line is a file name, the rest the file (a .pth, .start or customize module);
    /// reading its hooks as <c>env verify</c> does throws nothing.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var newline = data.IndexOf((byte)'\n');
        var name = Encoding.UTF8.GetString(newline < 0 ? data : data[..newline]);
        var content = newline < 0 ? [] : data[(newline + 1)..];
        if (IsPthFileName(name) || !IsStartFileName(name))
        {
            _ = MatchAllowlist(name, ExecutableLines(content));
        }

        if (IsStartFileName(name) || !IsPthFileName(name))
        {
            _ = StartEntryPoints(content);
        }

        _ = IsCustomizeModuleName(name) ? Excerpt(content) : Excerpt(content, maxLines: 1, maxChars: 10);
    }

    internal static string Normalize(string code) => WhitespaceRun().Replace(code.Trim(), " ");

    private static string DecodeUtf8Sig(ReadOnlySpan<byte> content)
    {
        if (content.Length > MaxHookFileSize)
        {
            content = content[..MaxHookFileSize];
        }

        if (content.StartsWith("\xEF\xBB\xBF"u8))
        {
            content = content[3..];
        }

        return Encoding.UTF8.GetString(content);
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespaceRun();

    [GeneratedRegex(@"^distutils-precedence\.pth$")]
    private static partial Regex DistutilsPrecedenceName();

    [GeneratedRegex(@"^import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os\.environ\.get\(var, '(local|stdlib)'\) == 'local'; enabled and __import__\('_distutils_hack'\)\.add_shim\(\);?$")]
    private static partial Regex DistutilsPrecedenceCode();

    [GeneratedRegex(@"^_virtualenv\.pth$")]
    private static partial Regex VirtualenvName();

    [GeneratedRegex(@"^import _virtualenv$")]
    private static partial Regex VirtualenvCode();

    [GeneratedRegex(@"^__editable__\.[A-Za-z0-9_.\-]+\.pth$")]
    private static partial Regex EditableName();

    [GeneratedRegex(@"^import __editable___[A-Za-z0-9_]+_finder; __editable___[A-Za-z0-9_]+_finder\.install\([^;]*\)$")]
    private static partial Regex EditableCode();
}
