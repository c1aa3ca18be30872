using System.Text;
using TrainGuard.Findings;
using TrainGuard.Review.Rules;

namespace TrainGuard.Review.Analysis;

/// <summary>The files whose change is dangerous in itself: start-up hooks, setup.py, requirements, CI workflows, artifacts.</summary>
public static class SensitiveFiles
{
    private static readonly ReviewRule StartupHook = ReviewRules.ByDetector("startup-hook");
    private static readonly ReviewRule InstallScript = ReviewRules.ByDetector("install-script");
    private static readonly ReviewRule Requirements = ReviewRules.ByDetector("requirements");
    private static readonly ReviewRule Ci = ReviewRules.ByDetector("ci");
    private static readonly ReviewRule Artifact = ReviewRules.ByDetector("artifact");

    /// <summary>The rules about whole files, in the order they are tried.</summary>
    public static IReadOnlyList<ReviewRule> FileRules { get; } = [StartupHook, InstallScript, Requirements, Ci, Artifact];

    /// <summary>Whether <paramref name="path"/> is a file the review treats as sensitive (the default policy protects these).</summary>
    public static bool IsSensitive(string path) => FileRules.Any(r => r.MatchesPath(path));

    /// <summary>True when the bytes read as text (UTF-8 without NUL bytes).</summary>
    public static bool IsText(byte[] bytes)
    {
        if (Array.IndexOf(bytes, (byte)0) >= 0)
        {
            return false;
        }

        try
        {
            _ = new UTF8Encoding(false, true).GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>True when the file is an opaque artifact (scanned, not read as text).</summary>
    public static bool IsArtifact(string path, byte[]? after) =>
        Artifact.MatchesPath(path) && !(path.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) && after is not null && IsText(after));

    /// <summary>Findings about the file itself (not its Python): hooks, setup.py, requirement lines added, CI, artifacts.</summary>
    public static List<Finding> Check(string path, byte[]? before, byte[]? after)
    {
        var findings = new List<Finding>();
        if (after is null)
        {
            return findings;
        }

        var change = before is null ? "added" : "changed";
        var location = new Location(path);
        if (StartupHook.MatchesPath(path) && !IsArtifact(path, after))
        {
            var text = Encoding.UTF8.GetString(after);
            var isPth = path.EndsWith(".pth", StringComparison.OrdinalIgnoreCase);
            var importLine = isPth ? FindImportLine(text) : null;
            var severity = !isPth || importLine is not null ? Severity.Critical : Severity.High;
            var what = isPth
                ? importLine is { } line ? $"runs code at every interpreter start (line {line.Number}: {line.Text})" : "adds folders to every interpreter's import path"
                : "runs at every interpreter start once on the path";
            findings.Add(StartupHook.Finding($"{Path.GetFileName(path)} {change}: {what}", importLine is { } l ? location with { Line = l.Number } : location, Evidence(change), severity));
        }

        if (InstallScript.MatchesPath(path))
        {
            findings.Add(InstallScript.Finding($"setup.py {change}: it runs on every pip install of the project", location, Evidence(change)));
        }

        if (Requirements.MatchesPath(path))
        {
            findings.AddRange(CheckRequirements(path, before, after));
        }

        if (Ci.MatchesPath(path))
        {
            findings.Add(Ci.Finding($"CI workflow {change}: it runs with the project's secrets", location, Evidence(change)));
        }

        if (IsArtifact(path, after))
        {
            findings.Add(Artifact.Finding($"opaque artifact {change} ({after.Length:N0} bytes): it cannot be reviewed as code; the scanner's findings follow", location, Evidence(change)));
        }

        return findings;
    }

    private static Dictionary<string, string> Evidence(string change) => new(StringComparer.Ordinal) { ["change"] = change };

    private static (int Number, string Text)? FindImportLine(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimStart();
            if (line.StartsWith("import ", StringComparison.Ordinal) || line.StartsWith("import\t", StringComparison.Ordinal))
            {
                return (i + 1, TextSanitizer.Escape(lines[i].Trim(), 120));
            }
        }

        return null;
    }

    /// <summary>Requirement lines the change adds that are unpinned (medium) or name a URL, VCS or extra index (high).</summary>
    private static IEnumerable<Finding> CheckRequirements(string path, byte[]? before, byte[] after)
    {
        var old = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Lines(before))
        {
            old[line.Text] = old.GetValueOrDefault(line.Text) + 1;
        }

        foreach (var line in Lines(after))
        {
            if (old.GetValueOrDefault(line.Text) > 0)
            {
                old[line.Text]--;
                continue;
            }

            var text = line.Text;
            var lower = text.ToLowerInvariant();
            string? problem = null;
            var severity = Severity.Medium;
            if (lower.StartsWith("-i ", StringComparison.Ordinal) || lower.StartsWith("--index-url", StringComparison.Ordinal) || lower.StartsWith("--extra-index-url", StringComparison.Ordinal)
                || lower.StartsWith("-f ", StringComparison.Ordinal) || lower.StartsWith("--find-links", StringComparison.Ordinal) || lower.StartsWith("--trusted-host", StringComparison.Ordinal))
            {
                (problem, severity) = ("adds a package source", Severity.High);
            }
            else if (lower.Contains("://", StringComparison.Ordinal) || lower.StartsWith("git+", StringComparison.Ordinal) || lower.Contains(" @ ", StringComparison.Ordinal))
            {
                (problem, severity) = ("installs from a URL or repository", Severity.High);
            }
            else if (lower.StartsWith("-r ", StringComparison.Ordinal) || lower.StartsWith("-c ", StringComparison.Ordinal) || lower.StartsWith("--requirement", StringComparison.Ordinal) || lower.StartsWith("--constraint", StringComparison.Ordinal) || lower.StartsWith("--hash", StringComparison.Ordinal))
            {
                continue;
            }
            else if (lower.StartsWith('-'))
            {
                problem = "adds an installer option";
            }
            else if (!lower.Contains("==", StringComparison.Ordinal))
            {
                problem = "is not pinned to one version (name==version)";
            }

            if (problem is not null)
            {
                yield return Requirements.Finding($"requirement '{text}' {problem}", new Location(path, Line: line.Number), new Dictionary<string, string>(StringComparer.Ordinal) { ["change"] = "added", ["requirement"] = text }, severity);
            }
        }
    }

    private static IEnumerable<(int Number, string Text)> Lines(byte[]? content)
    {
        if (content is null)
        {
            yield break;
        }

        var lines = Encoding.UTF8.GetString(content).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var hash = lines[i].IndexOf(" #", StringComparison.Ordinal);
            var text = (lines[i].StartsWith('#') ? string.Empty : hash >= 0 ? lines[i][..hash] : lines[i]).Trim();
            if (text.Length > 0)
            {
                yield return (i + 1, text);
            }
        }
    }
}
