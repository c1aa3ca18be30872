using TrainGuard.Parsing;
using TrainGuard.Rules;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Access.Policy;

/// <summary>What an asset holds, which decides how bad an unexpected writer is.</summary>
public enum AssetKind
{
    /// <summary>Code every job runs: Python environments, site-packages, training code, scheduler scripts.</summary>
    Code,

    /// <summary>Files that configure the node (<c>/etc</c> files the agent watches).</summary>
    Config,

    /// <summary>Checkpoint folders.</summary>
    Checkpoints,

    /// <summary>Dataset folders.</summary>
    Data,
}

/// <summary>One asset of the policy: a path (a <c>*</c> in a component matches any name), what it is, and who may write it.</summary>
public sealed record AssetPolicy(string Path, AssetKind Kind, IReadOnlyList<string> Users, IReadOnlyList<string> Groups, int Line)
{
    /// <summary>Shared code and node configuration: any unexpected writer is critical.</summary>
    public bool IsCode => Kind is AssetKind.Code or AssetKind.Config;
}

/// <summary>
/// The access policy (YAML): the assets the cluster shares and, for each, the users and groups that should be able to
/// write it. Every other account that can is a finding. Root always can and is never one.
/// <code>
/// assets:
///   - path: /opt/envs/torch/lib/python3.11/site-packages
///     kind: code               # code | config | checkpoints | data
///     users: [mlops]
///     groups: [ml-maintainers]
/// </code>
/// </summary>
public sealed record AccessPolicy(IReadOnlyList<AssetPolicy> Assets)
{
    private static readonly string[] TopFields = ["assets"];
    private static readonly string[] AssetFields = ["path", "kind", "users", "groups"];

    /// <exception cref="MalformedInputException">Invalid YAML, an unknown field, a missing path, an unknown kind (kind Config, naming the file and line).</exception>
    public static AccessPolicy Load(string file) => Parse(file, File.ReadAllText(file));

    public static AccessPolicy Parse(string name, string yaml)
    {
        var fields = YamlFields.Read(YamlFields.Parse(name, yaml), name, TopFields);
        if (!fields.TryGetValue("assets", out var list))
        {
            throw YamlFields.Invalid(name, null, "'assets' is required");
        }

        var assets = new List<AssetPolicy>();
        foreach (var node in YamlFields.Items(list, name, "assets"))
        {
            var line = (int)node.Start.Line;
            var asset = YamlFields.Read(node, name, AssetFields);
            var path = YamlFields.String(asset, "path", name);
            if (string.IsNullOrWhiteSpace(path) || !path.StartsWith('/'))
            {
                throw YamlFields.Invalid(name, line, "every asset needs an absolute 'path' (as on the node, e.g. /opt/envs/torch)");
            }

            if (path.Split('/').Contains(".."))
            {
                throw YamlFields.Invalid(name, line, $"path {path}: '..' is not allowed");
            }

            var kindText = YamlFields.String(asset, "kind", name) ?? "code";
            if (!Enum.TryParse<AssetKind>(kindText, ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || char.IsAsciiDigit(kindText[0]))
            {
                throw YamlFields.Invalid(name, asset["kind"].Start.Line, $"kind '{kindText}' (expected code, config, checkpoints or data)");
            }

            assets.Add(new AssetPolicy(path, kind, YamlFields.Strings(asset, "users", name) ?? [], YamlFields.Strings(asset, "groups", name) ?? [], line));
        }

        return assets.Count > 0 ? new AccessPolicy(assets) : throw YamlFields.Invalid(name, null, "'assets' is empty");
    }
}
