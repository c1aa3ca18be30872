using TrainGuard.Detections;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// The rule set a server evaluates (and <c>trainguard rules run</c> replays with): the built-in rules, then a site's
/// rule files (<c>--rules DIR</c>: every <c>*.yml</c>/<c>*.yaml</c> below it, detections, correlations and filters that
/// may name built-in rules), with the placeholders of the server's configuration (<c>--placeholder NAME=VALUE</c> adds a
/// value to a built-in placeholder or defines a new one). Loading fails closed: one bad rule refuses the whole set.
/// </summary>
public static class AlertRules
{
    /// <summary>Loads the built-in rules and the site's rules in <paramref name="directory"/> (none when null).</summary>
    /// <exception cref="MalformedInputException">A rule file cannot be read or holds a rule that cannot be loaded (the message starts <c>file:line:column:</c>).</exception>
    public static DetectionRuleSet Load(string? directory, IReadOnlyDictionary<string, IReadOnlyList<string>>? placeholders = null)
    {
        var options = new DetectionOptions { Placeholders = Merge(placeholders) };
        var files = new List<(string Name, string Yaml)>(DetectionRuleSet.BuiltInFiles);
        if (directory is not null)
        {
            files.AddRange(DetectionRuleSet.ReadFiles(DetectionRuleSet.RuleFilesIn(directory), options));
        }

        return DetectionRuleSet.Load(files, options);
    }

    /// <summary>
    /// Reads <c>NAME=VALUE</c> arguments (one value each, repeatable; a Sigma value, so <c>*</c> and <c>?</c> match) into
    /// placeholder values by name.
    /// </summary>
    /// <exception cref="ArgumentException">An argument is not <c>NAME=VALUE</c> with a name of letters, digits and <c>_</c>.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ParsePlaceholders(IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var argument in arguments)
        {
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? argument[..equals].Trim('%') : string.Empty;
            var value = equals > 0 ? argument[(equals + 1)..] : string.Empty;
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || value.Length == 0)
            {
                throw new ArgumentException($"--placeholder '{Findings.TextSanitizer.Escape(argument, 80)}': write NAME=VALUE, e.g. PackageManagers=/opt/conda/bin/conda (one value per --placeholder)", nameof(arguments));
            }

            if (!result.TryGetValue(name, out var values))
            {
                result[name] = values = [];
            }

            values.Add(value);
        }

        return result.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal);
    }

    /// <summary>The default placeholders with <paramref name="extra"/> values added (new names defined).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Merge(IReadOnlyDictionary<string, IReadOnlyList<string>>? extra)
    {
        var merged = new Dictionary<string, IReadOnlyList<string>>(DetectionOptions.DefaultPlaceholders, StringComparer.Ordinal);
        foreach (var (name, values) in extra ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            merged[name] = merged.TryGetValue(name, out var defaults) ? [.. defaults, .. values] : values;
        }

        return merged;
    }
}
