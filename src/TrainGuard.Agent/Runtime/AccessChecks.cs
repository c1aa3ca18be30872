using System.Text;
using System.Text.Json;
using TrainGuard.Access;
using TrainGuard.Access.Analysis;
using TrainGuard.Access.Policy;
using TrainGuard.Agent.Common;
using TrainGuard.Events;
using TrainGuard.Findings;

namespace TrainGuard.Agent.Runtime;

/// <summary>
/// Scheduled <c>access check</c> of the node whose file system is at <paramref name="nodeRoot"/> against the policy file
/// (read again on every run). The first run reports each finding as an <c>access-finding</c> event; the writers of
/// every asset are remembered (<paramref name="statePath"/>), and on later runs each account that gained or lost write
/// access to an asset is an <c>access-writer-added</c> / <c>access-writer-removed</c> event whose <c>user.name</c> is
/// that account (so it lands on the account's timeline), carrying the finding when the policy does not allow it.
/// A finding not reported before and not explained by a new writer (a sudoers line not understood, an asset the policy
/// just gained) is an <c>access-finding</c> again.
/// </summary>
public sealed class AccessChecks(string policyPath, string? statePath, string nodeRoot)
{
    public const string Module = "access";

    private State? _state = Load(statePath);

    public async Task<List<EventRecord>> RunAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var policy = AccessPolicy.Load(policyPath);
        var report = await Task.Run(() => AccessCheck.Run(policy, nodeRoot, cancellationToken), cancellationToken);
        var details = (AccessDetails)report.Details!;
        var findings = report.Items.SelectMany(i => i.Findings).ToList();
        var previous = _state;
        var current = new State
        {
            Writers = details.Assets
                .GroupBy(a => a.Writers.Asset, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.SelectMany(a => a.Writers.Accounts).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal),
            Findings = findings.Select(Key).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
        };

        var events = new List<EventRecord>();
        var explained = new HashSet<string>(StringComparer.Ordinal);
        if (previous is not null)
        {
            foreach (var asset in details.Assets)
            {
                if (!previous.Writers.TryGetValue(asset.Writers.Asset, out var before))
                {
                    continue; // an asset the policy just gained: its findings are reported below
                }

                foreach (var account in asset.Writers.Accounts.Except(before, StringComparer.Ordinal))
                {
                    var finding = findings.FirstOrDefault(f => f.Location.File == asset.Writers.Asset && Account(f) == account);
                    if (finding is not null)
                    {
                        explained.Add(Key(finding));
                    }

                    events.Add(WriterEvent(EventActions.AccessWriterAdded, asset, account, asset.Writers.Reasons(account), finding, now));
                }

                foreach (var account in before.Except(asset.Writers.Accounts, StringComparer.Ordinal))
                {
                    events.Add(WriterEvent(EventActions.AccessWriterRemoved, asset, account, [], null, now));
                }
            }
        }

        var reported = previous?.Findings.ToHashSet(StringComparer.Ordinal) ?? [];
        var assets = details.Assets.ToDictionary(a => a.Writers.Asset, StringComparer.Ordinal);
        foreach (var finding in findings.Where(f => !reported.Contains(Key(f)) && !explained.Contains(Key(f))))
        {
            events.Add(FindingEvent(finding, assets.GetValueOrDefault(finding.Location.File ?? string.Empty), now));
        }

        _state = current;
        if (statePath is not null)
        {
            DurableFile.WriteAllText(statePath, JsonSerializer.Serialize(current));
        }

        return events;
    }

    /// <summary>The <c>access-finding</c> event of one finding (<c>user.name</c>: the account it names, unless it is every account).</summary>
    public static EventRecord FindingEvent(Finding finding, CheckedAsset? asset, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(finding);
        var e = finding.ToEvent(now, EventActions.AccessFinding, Module);
        e.Id = UuidV7.FromKey(now, Encoding.UTF8.GetBytes("access|" + Key(finding) + "|" + now.ToUnixTimeMilliseconds()));
        e.Set(EventFields.Category, ["file", "iam"]).Set(EventFields.Type, ["info"]);
        if (asset is not null && Account(finding) is { } account)
        {
            Describe(e, asset, account, asset.Writers.Reasons(account));
        }

        return e;
    }

    private static EventRecord WriterEvent(string action, CheckedAsset asset, string account, IReadOnlyList<string> reasons, Finding? finding, DateTimeOffset now)
    {
        var added = action == EventActions.AccessWriterAdded;
        var e = new EventRecord(now, action);
        e.Id = UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"access|{action}|{asset.Writers.Asset}|{account}|{now.ToUnixTimeMilliseconds()}"));
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        e.Set(EventFields.Category, ["file", "iam"]).Set(EventFields.Type, [added ? "creation" : "deletion"]);
        Describe(e, asset, account, reasons);
        e.Set("message", $"{Writers.Display(account)} {(added ? "can now" : "can no longer")} modify {asset.Writers.Asset}{(reasons.Count > 0 ? ": " + reasons[0] : string.Empty)}");
        if (finding is not null)
        {
            e.WithFinding(finding);
        }
        else
        {
            e.Set(EventFields.Severity, 10).Set(EventFields.TrainGuardSeverity, "info");
        }

        return e;
    }

    private static void Describe(EventRecord e, CheckedAsset asset, string account, IReadOnlyList<string> reasons)
    {
        e.Set("file.path", asset.Writers.Asset);
        e.Set("trainguard.access.asset", asset.Writers.Asset);
        e.Set("trainguard.access.kind", asset.Policy.Kind.ToString().ToLowerInvariant());
        e.Set("trainguard.access.account", account);
        e.Set("trainguard.access.allowed", asset.Allowed.Contains(account));
        e.Set("trainguard.access.reasons", reasons);
        if (account != Writers.Anyone)
        {
            e.Set("user.name", account);
        }
    }

    private static string? Account(Finding finding) => finding.Evidence?.GetValueOrDefault("account");

    private static string Key(Finding finding) => $"{finding.RuleId}|{finding.Location.File}|{Account(finding) ?? finding.Message}";

    private static State? Load(string? path)
    {
        try
        {
            return path is not null && File.Exists(path) ? JsonSerializer.Deserialize<State>(File.ReadAllText(path)) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>What the last run saw: each asset's writers and the keys of the findings reported.</summary>
    private sealed class State
    {
        public Dictionary<string, List<string>> Writers { get; init; } = new(StringComparer.Ordinal);

        public List<string> Findings { get; init; } = [];
    }
}
