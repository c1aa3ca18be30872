using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;

namespace TrainGuard.Agent.Runtime;

/// <summary>
/// Scheduled <c>env verify</c> over the configured site-packages folders: each finding becomes an
/// <c>env-finding</c> event, once (findings already reported by an earlier run are remembered in the
/// state folder and not repeated while they persist). Each names the owner of the file it is about
/// (<see cref="FileOwnership"/>, named from the passwd and group of the node whose file system is at
/// <paramref name="nodeRoot"/>, read again on every run so accounts added since the agent started are named; null: owners
/// by uid only).
/// </summary>
public sealed class EnvChecks(IReadOnlyList<string> sites, string? statePath, string? nodeRoot = null)
{
    public const string Module = "env";

    private HashSet<string> _reported = Load(statePath);

    public async Task<List<EventRecord>> RunAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var events = new List<EventRecord>();
        if (sites.Count == 0)
        {
            return events;
        }

        var accountNames = nodeRoot is null ? null : FileOwnership.NodeAccounts(nodeRoot);
        var report = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = sites, MaxDegreeOfParallelism = 1 }, null, cancellationToken);
        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in report.Items)
        {
            foreach (var finding in item.Findings)
            {
                var key = $"{finding.RuleId}|{finding.Location.File}|{finding.Location.Member}|{finding.Message}";
                current.Add(key);
                if (_reported.Contains(key))
                {
                    continue;
                }

                events.Add(FindingEvent(item, finding, now, accountNames));
            }
        }

        _reported = current;
        if (statePath is not null)
        {
            DurableFile.WriteAllText(statePath, JsonSerializer.Serialize(current.Order(StringComparer.Ordinal)));
        }

        return events;
    }

    /// <summary>
    /// The <c>env-finding</c> event of one finding of <paramref name="item"/> (a package of an <c>env verify</c> report):
    /// the finding embedded, <c>package.name</c>/<c>version</c>/<c>type</c>, the owner of the file it names
    /// (<see cref="FileOwnership"/>); its id is derived from the finding and the time.
    /// </summary>
    public static EventRecord FindingEvent(AnalyzedItem item, Finding finding, DateTimeOffset now, IAccountNames? accountNames)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(finding);
        var key = $"{finding.RuleId}|{finding.Location.File}|{finding.Location.Member}|{finding.Message}";
        var e = finding.ToEvent(now, EventActions.EnvFinding, Module);
        e.Id = UuidV7.FromKey(now, Encoding.UTF8.GetBytes("env|" + key + "|" + now.ToUnixTimeMilliseconds()));
        e.Set(EventFields.Category, ["package", "file"]).Set(EventFields.Type, ["info"]);
        var parts = item.Path.Split(' ', 2);
        e.Set("package.name", parts[0]);
        if (parts.Length > 1)
        {
            e.Set("package.version", parts[1]);
        }

        e.Set("package.type", item.Format);
        return FileOwnership.Describe(e, FileOwnership.FindingFile(e), accountNames);
    }

    private static HashSet<string> Load(string? path)
    {
        try
        {
            return path is not null && File.Exists(path) && JsonSerializer.Deserialize<List<string>>(File.ReadAllText(path)) is { } list
                ? new HashSet<string>(list, StringComparer.Ordinal)
                : new HashSet<string>(StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }
    }
}
