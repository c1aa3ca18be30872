using System.Text;
using TrainGuard.Findings;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Rules;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Review.Analysis;

/// <summary>The review of one file's change: what kind of file it is and what the change adds or removes.</summary>
public sealed record FileReview(string Path, string Kind, string Change, IReadOnlyList<Finding> Findings);

/// <summary>
/// Reviews one file's change (the version before and after; null when absent): Python files are parsed in both versions
/// and compared (a pattern present only after is reported, a safeguard present only before is reported), sensitive files
/// are reported for what they are, and opaque artifacts are scanned with the artifact scanner. Not thread-safe (one parser).
/// </summary>
public sealed class FileReviewer : IDisposable
{
    /// <summary>Larger Python files are not parsed (reported unparsed instead).</summary>
    public const int MaxPythonBytes = 16 * 1024 * 1024;

    private readonly IPythonParser _parser;
    private readonly ArtifactScanner _scanner;
    private readonly PythonAnalyzer _analyzer = new();
    private readonly bool _ownsParser;

    public FileReviewer(IPythonParser parser, ArtifactScanner? scanner = null, bool ownsParser = false)
    {
        _parser = parser;
        _scanner = scanner ?? new ArtifactScanner();
        _ownsParser = ownsParser;
    }

    /// <summary>The parser's name (<c>tree-sitter</c> or <c>python-ast</c>).</summary>
    public string ParserName => _parser.Name;

    public FileReview Review(string path, byte[]? before, byte[]? after, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var change = before is null ? "added" : after is null ? "deleted" : "changed";
        var findings = SensitiveFiles.Check(path, before, after);
        var kind = "file";
        if (IsPython(path) && (after is null || SensitiveFiles.IsText(after) || !SensitiveFiles.IsArtifact(path, after)))
        {
            kind = "python";
            findings.AddRange(ReviewPython(path, before, after));
        }
        else if (SensitiveFiles.IsArtifact(path, after))
        {
            kind = "artifact";
            findings.AddRange(Scan(path, after!, cancellationToken));
        }
        else if (findings.Count > 0)
        {
            kind = "sensitive";
        }

        return new FileReview(path, kind, change, findings);
    }

    public static bool IsPython(string path) => path.EndsWith(".py", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pyw", StringComparison.OrdinalIgnoreCase);

    private IEnumerable<Finding> ReviewPython(string path, byte[]? before, byte[]? after)
    {
        var findings = new List<Finding>();
        var (beforeHits, _) = before is null ? ([], null) : Analyze(before);
        var (afterHits, problem) = after is null ? ([], null) : Analyze(after);
        if (problem is not null)
        {
            findings.Add(ReviewRules.Unparsed.Finding($"{path} could not be parsed by {_parser.Name}: {problem}", new Location(path), new Dictionary<string, string>(StringComparer.Ordinal) { ["parser"] = _parser.Name }));
        }

        // Patterns present only after the change.
        var old = Count(beforeHits.Where(h => !h.IsSafeguard));
        foreach (var hit in afterHits.Where(h => !h.IsSafeguard))
        {
            if (old.GetValueOrDefault(hit.Key) > 0)
            {
                old[hit.Key]--;
                continue;
            }

            findings.Add(hit.Rule.Finding(hit.Message, new Location(path, Line: hit.Line), Evidence("added", "after", hit.Subject), hit.Severity));
        }

        // Safeguards present only before it.
        var kept = Count(afterHits.Where(h => h.IsSafeguard));
        foreach (var hit in beforeHits.Where(h => h.IsSafeguard))
        {
            if (kept.GetValueOrDefault(hit.Key) > 0)
            {
                kept[hit.Key]--;
                continue;
            }

            var where = after is null ? "the file was deleted" : "no longer in the file";
            findings.Add(hit.Rule.Finding($"{hit.Subject} removed (line {hit.Line} before the change; {where})", new Location(path, Line: hit.Line), Evidence("removed", "before", hit.Subject), hit.Severity));
        }

        return findings;
    }

    private (IReadOnlyList<CodeHit> Hits, string? Problem) Analyze(byte[] source)
    {
        if (source.Length > MaxPythonBytes)
        {
            return ([], $"the file is {source.Length:N0} bytes, over the {MaxPythonBytes:N0}-byte limit");
        }

        if (!SensitiveFiles.IsText(source))
        {
            return ([], "the file is not UTF-8 text");
        }

        var parse = _parser.Parse(source);
        if (parse.Tree is null)
        {
            return ([], parse.ErrorLine is { } line ? $"{parse.Error} (line {line})" : parse.Error ?? "no tree");
        }

        return (_analyzer.Analyze(parse.Tree), null);
    }

    private IEnumerable<Finding> Scan(string path, byte[] content, CancellationToken cancellationToken)
    {
        // The scanner reads files: the blob goes to a private temporary file, never into the repository's folder.
        var folder = Directory.CreateTempSubdirectory("tg-review-artifact-");
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(folder.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var file = System.IO.Path.Combine(folder.FullName, "artifact" + System.IO.Path.GetExtension(path));
            File.WriteAllBytes(file, content);
            var item = _scanner.Scan(new ScanTarget(file, path, InCheckpointFolder: false), cancellationToken);
            return item.Findings.Select(f => f with { Location = f.Location with { File = path } }).ToList();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Dictionary<string, int> Count(IEnumerable<CodeHit> hits)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var hit in hits)
        {
            counts[hit.Key] = counts.GetValueOrDefault(hit.Key) + 1;
        }

        return counts;
    }

    private static Dictionary<string, string> Evidence(string change, string version, string code) => new(StringComparer.Ordinal)
    {
        ["change"] = change,
        ["version"] = version,
        ["code"] = code,
    };

    public void Dispose()
    {
        if (_ownsParser)
        {
            _parser.Dispose();
        }
    }

    /// <summary>Decodes a sample or a blob for messages.</summary>
    internal static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
