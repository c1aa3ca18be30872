using TrainGuard.Parsing;
using TrainGuard.Review.Analysis;
using TrainGuard.Review.Rules;
using TrainGuard.Rules;

namespace TrainGuard.Review.Policy;

/// <summary>Paths a change to which needs <see cref="Approvals"/> approvals from <see cref="Group"/> (null: any allowed signer).</summary>
public sealed record ProtectedPaths(IReadOnlyList<PathPattern> Paths, int Approvals, string? Group, string Where)
{
    public bool Matches(string path) => Paths.Any(p => p.IsMatch(path));

    public string Describe() => $"{string.Join(", ", Paths.Select(p => p.Text))}: {Approvals} approval{(Approvals == 1 ? string.Empty : "s")} from {Group ?? "any allowed signer"}";
}

/// <summary>
/// The two-person rule as data (YAML, <c>--policy FILE</c>):
/// <code>
/// signed_commits: required        # required (default) | optional
/// groups:
///   ml-leads: [alice@example.org, carol@example.org]   # principals of the allowed-signers file
/// protect:
///   - paths: ["train/**", "**/optim*.py"]
///     approvals: 1
///     from: ml-leads                # optional: any allowed signer
/// </code>
/// An approver is never the author, committer or signer of what they approve. Without a file the default applies: signed
/// commits required, and the sensitive files (start-up hooks, setup.py, requirements, CI, artifacts) need one approval.
/// </summary>
public sealed record ReviewPolicy(bool SignedCommitsRequired, IReadOnlyDictionary<string, IReadOnlyList<string>> Groups, IReadOnlyList<ProtectedPaths> Protect, string Source)
{
    public static ReviewPolicy Default { get; } = new(
        true,
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal),
        [new ProtectedPaths(SensitiveFiles.FileRules.SelectMany(r => r.Paths).ToArray(), 1, null, "default policy")],
        "default policy");

    /// <summary>Reads a policy file; errors name the file and line (<see cref="MalformedInputException"/>, kind config).</summary>
    public static ReviewPolicy Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, $"cannot read the policy: {ex.Message}", path, null, inner: ex);
        }

        return Parse(path, text);
    }

    public static ReviewPolicy Parse(string name, string yaml)
    {
        var root = YamlFields.Parse(name, yaml);
        var fields = YamlFields.Read(root, name, ["signed_commits", "groups", "protect"]);
        var signed = YamlFields.String(fields, "signed_commits", name) switch
        {
            null or "required" => true,
            "optional" => false,
            var other => throw YamlFields.Invalid(name, fields["signed_commits"].Start.Line, $"signed_commits must be required or optional, not '{other}'"),
        };
        var groups = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (fields.TryGetValue("groups", out var groupNode))
        {
            if (groupNode is not YamlDotNet.RepresentationModel.YamlMappingNode groupMap)
            {
                throw YamlFields.Invalid(name, groupNode.Start.Line, "groups must be a mapping of group names to lists of principals");
            }

            foreach (var (key, members) in groupMap.Children)
            {
                var group = (key as YamlDotNet.RepresentationModel.YamlScalarNode)?.Value ?? string.Empty;
                var list = YamlFields.Items(members, name, group).Select(m => m is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { Length: > 0 } v }
                    ? v
                    : throw YamlFields.Invalid(name, m.Start.Line, $"group {group}: every member must be a principal (an e-mail address of the allowed-signers file)")).ToList();
                if (list.Count == 0)
                {
                    throw YamlFields.Invalid(name, members.Start.Line, $"group {group} has no members");
                }

                groups[group] = list;
            }
        }

        var protect = new List<ProtectedPaths>();
        if (fields.TryGetValue("protect", out var protectNode))
        {
            foreach (var entry in YamlFields.Items(protectNode, name, "protect"))
            {
                var line = entry.Start.Line;
                var entryFields = YamlFields.Read(entry, name, ["paths", "approvals", "from"]);
                var paths = YamlFields.Strings(entryFields, "paths", name) ?? throw YamlFields.Invalid(name, line, "a protect entry needs paths");
                if (paths.Count == 0)
                {
                    throw YamlFields.Invalid(name, line, "a protect entry needs at least one path");
                }

                var approvals = YamlFields.Int32(entryFields, "approvals", name) ?? 1;
                if (approvals is < 1 or > 10)
                {
                    throw YamlFields.Invalid(name, line, $"approvals must be between 1 and 10, not {approvals}");
                }

                var from = YamlFields.String(entryFields, "from", name);
                if (from is not null && !groups.ContainsKey(from))
                {
                    throw YamlFields.Invalid(name, line, $"from: no group named '{from}' (groups: {(groups.Count == 0 ? "none" : string.Join(", ", groups.Keys))})");
                }

                protect.Add(new ProtectedPaths(paths.Select(p => new PathPattern(p)).ToArray(), approvals, from, $"{name}:{line}"));
            }
        }

        if (protect.Count == 0)
        {
            throw YamlFields.Invalid(name, null, "the policy protects no path (add a 'protect' list)");
        }

        return new ReviewPolicy(signed, groups, protect, name);
    }

    /// <summary>Whether <paramref name="principal"/> may approve for <paramref name="group"/> (null: anyone the allowed-signers file lists).</summary>
    public bool InGroup(string principal, string? group) =>
        group is null || (Groups.TryGetValue(group, out var members) && members.Any(m => string.Equals(m, principal, StringComparison.OrdinalIgnoreCase)));
}
