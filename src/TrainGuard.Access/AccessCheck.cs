using System.Diagnostics;
using System.Text.Json;
using TrainGuard.Access.Analysis;
using TrainGuard.Access.Policy;
using TrainGuard.Access.Rules;
using TrainGuard.Findings;
using TrainGuard.Output;

namespace TrainGuard.Access;

/// <summary>The writers of one asset the policy names, with the policy entry that named it.</summary>
public sealed record CheckedAsset(AssetPolicy Policy, AssetWriters Writers, IReadOnlySet<string> Allowed);

/// <summary>
/// <c>trainguard access check</c>: every asset of the policy (its paths expanded under the root), who can modify it,
/// and a finding for every account that can but is not allowed; sudoers and account lines not understood are
/// findings too. Items are the assets, most important first.
/// </summary>
public static class AccessCheck
{
    public const string Command = "access check";

    /// <summary>Most paths one policy entry may expand to.</summary>
    public const int MaxMatchesPerEntry = 10_000;

    /// <exception cref="AccessException">A policy path that matches nothing under the root.</exception>
    public static Report Run(AccessPolicy policy, string root, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        if (!Directory.Exists(root))
        {
            throw new AccessException($"--root {root}: folder does not exist");
        }

        var analyzer = new AccessAnalyzer(root);
        var checkedAssets = new List<CheckedAsset>();
        foreach (var entry in policy.Assets)
        {
            var matches = Expand(analyzer, entry.Path);
            if (matches.Count == 0)
            {
                throw new AccessException($"policy asset {entry.Path} (line {entry.Line}) matches nothing under {Path.GetFullPath(root)}");
            }

            var allowed = entry.Users.Concat(entry.Groups.SelectMany(g => analyzer.Accounts.Members(g))).Append("root").ToHashSet(StringComparer.Ordinal);
            foreach (var match in matches)
            {
                checkedAssets.Add(new CheckedAsset(entry, analyzer.Analyze(match, cancellationToken), allowed));
            }
        }

        var items = checkedAssets.Select(Item).ToList();
        var problems = analyzer.Sudo.Problems.Select(p => (File: p.Source.Split(':')[0], Text: $"{p.Source}: {p.Reason}: {p.Line}"))
            .Concat(analyzer.Accounts.Problems.Select(p => (File: p.Split(':')[0], Text: p)))
            .ToList();
        foreach (var group in problems.GroupBy(p => p.File, StringComparer.Ordinal))
        {
            var findings = group.Select(p => AccessRules.NotUnderstood.Finding(p.Text, new Location("/" + group.Key))).ToList();
            items.Add(new AnalyzedItem { Path = "/" + group.Key, Format = "config", Verdict = Verdict.Suspicious, Findings = findings });
        }

        return new Report
        {
            Command = Command,
            ItemsName = "assets",
            Items = items.OrderByDescending(i => i.Findings.Count == 0 ? -1 : (int)i.Findings.Max(f => f.Severity)).ThenBy(i => i.Path, StringComparer.Ordinal).ToList(),
            Rules = AccessRules.Family.Descriptors,
            StartedAt = started,
            Elapsed = clock.Elapsed,
            Details = new AccessDetails(checkedAssets, analyzer.Capabilities.Count, analyzer.Sudo.Grants.Count),
        };
    }

    private static AnalyzedItem Item(CheckedAsset asset)
    {
        var findings = new List<Finding>();
        foreach (var account in asset.Writers.Accounts.Where(a => !asset.Allowed.Contains(a)))
        {
            var rule = account == Writers.Anyone ? AccessRules.WorldWritable : asset.Policy.IsCode ? AccessRules.CodeWritable : AccessRules.DataWritable;
            var severity = account == Writers.Anyone && asset.Policy.IsCode ? Severity.Critical : rule.Severity;
            var reasons = asset.Writers.Reasons(account);
            findings.Add(rule.Finding(
                $"{Writers.Display(account)} can modify {asset.Writers.Asset}: {string.Join("; ", reasons)}",
                new Location(asset.Writers.Asset),
                new Dictionary<string, string> { ["account"] = account, ["reason"] = reasons[0], ["kind"] = asset.Policy.Kind.ToString().ToLowerInvariant() },
                severity));
        }

        findings.Sort((a, b) => b.Severity.CompareTo(a.Severity));
        return new AnalyzedItem
        {
            Path = asset.Writers.Asset,
            Format = asset.Policy.Kind.ToString().ToLowerInvariant(),
            Verdict = findings.Aggregate(Verdict.Clean, (v, f) => v.Combine(f.Verdict)),
            Findings = findings,
        };
    }

    /// <summary>The node paths a policy path names: a component with <c>*</c> or <c>?</c> matches the names of its folder.</summary>
    private static List<string> Expand(AccessAnalyzer analyzer, string pattern)
    {
        var current = new List<string> { string.Empty };
        foreach (var part in pattern.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = new List<string>();
            foreach (var prefix in current)
            {
                // Symbolic links are resolved inside the root, never by this machine (an absolute target is the node's).
                var folder = analyzer.HostPath(analyzer.Resolve(prefix.Length == 0 ? "/" : prefix, []));
                if (part.Contains('*', StringComparison.Ordinal) || part.Contains('?', StringComparison.Ordinal))
                {
                    if (Directory.Exists(folder))
                    {
                        next.AddRange(Directory.EnumerateFileSystemEntries(folder, part).Select(e => prefix + "/" + Path.GetFileName(e)).Order(StringComparer.Ordinal));
                    }
                }
                else if (Path.Exists(Path.Combine(folder, part)) || new FileInfo(Path.Combine(folder, part)).LinkTarget is not null)
                {
                    next.Add(prefix + "/" + part);
                }
            }

            current = next.Take(MaxMatchesPerEntry).ToList();
        }

        return current.Select(p => p.Length == 0 ? "/" : p).ToList();
    }
}

/// <summary>What <c>access check</c> reports beside its findings: every writer of every asset with its reasons.</summary>
public sealed class AccessDetails(IReadOnlyList<CheckedAsset> assets, int capabilityExecutables, int sudoGrants) : IReportDetails
{
    public IReadOnlyList<CheckedAsset> Assets { get; } = assets;

    public bool ReplacesItemText => false;

    public int ExitCode => 0;

    public void WriteJson(Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject("access");
        json.WriteNumber("sudo_write_grants", sudoGrants);
        json.WriteNumber("capability_executables", capabilityExecutables);
        json.WriteStartArray("writers");
        foreach (var asset in Assets)
        {
            json.WriteStartObject();
            json.WriteString("asset", asset.Writers.Asset);
            json.WriteString("kind", asset.Policy.Kind.ToString().ToLowerInvariant());
            json.WriteNumber("entries", asset.Writers.Entries);
            json.WriteStartArray("accounts");
            foreach (var account in asset.Writers.Accounts)
            {
                json.WriteStartObject();
                json.WriteString("account", account);
                json.WriteBoolean("allowed", asset.Allowed.Contains(account));
                json.WriteStartArray("reasons");
                foreach (var reason in asset.Writers.Reasons(account))
                {
                    json.WriteStringValue(reason);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    public void WriteText(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine();
        output.WriteLine("who can modify each asset (root always can):");
        foreach (var asset in Assets)
        {
            var accounts = asset.Writers.Accounts.Select(a => asset.Allowed.Contains(a) ? Writers.Display(a) : Writers.Display(a) + " (not allowed)");
            output.WriteLine($"  {TextSanitizer.Escape(asset.Writers.Asset, 300)} ({asset.Writers.Entries:N0} entries): {TextSanitizer.Escape(string.Join(", ", accounts), 1000)}");
        }
    }
}
