using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Replay;
using TrainGuard.Events;

namespace TrainGuard.Server.Tests.Support;

/// <summary>
/// The insider incident recorded by <c>scripts/capture-audit.sh</c> (tests/fixtures/audit/insider-incident: real
/// audit.log and auth.log, scenario.json as ground truth) as an agent on host <c>vm</c> ships it: the events the
/// agent's <see cref="ForensicReplay"/> derives, in time order (<see cref="TimeOrder"/>, what <c>agent replay</c>
/// prints) or collector by collector (<see cref="CollectorOrder"/>: the audit collector's events, then sshd's).
/// </summary>
public static class Incident
{
    public const string Host = "vm";

    private static readonly string Folder = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "audit", "insider-incident");

    private static readonly Lazy<JsonElement> ScenarioJson = new(() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "scenario.json"))).RootElement);

    private static readonly Lazy<IReadOnlyList<EventRecord>> Collected = new(() =>
        ForensicReplay.Read([Path.Combine(Folder, "audit.log")], [Path.Combine(Folder, "auth.log")], Options()).Events);

    /// <summary>The events sorted by time, as <c>trainguard agent replay</c> writes them.</summary>
    public static IReadOnlyList<JsonObject> TimeOrder => [.. Collected.Value.OrderBy(e => e.Timestamp).ThenBy(e => e.Id, StringComparer.Ordinal).Select(Json)];

    /// <summary>The events as the collectors emit them: every audit event, then every sshd event.</summary>
    public static IReadOnlyList<JsonObject> CollectorOrder => [.. Collected.Value.Select(Json)];

    public static JsonElement Scenario => ScenarioJson.Value;

    public static string Uid(string account) => Scenario.GetProperty("accounts").GetProperty(account).GetProperty("uid").GetInt32().ToString(CultureInfo.InvariantCulture);

    public static string Account(string account, string property) => Scenario.GetProperty("accounts").GetProperty(account).GetProperty(property).GetString()!;

    public static long Pid(string process) => Scenario.GetProperty("processes").GetProperty(process).GetProperty("pid").GetInt64();

    /// <summary>
    /// The snapshot's <c>ssh-key-added</c> for the planted key (the recording holds logs only): lena's authorized_keys
    /// gained it between the write and the login, and no audit join named the writer.
    /// </summary>
    public static JsonObject PlantedKeyAdded() => new()
    {
        ["id"] = Guid.CreateVersion7().ToString(),
        ["@timestamp"] = "2026-12-07T01:11:45.000Z",
        ["event"] = new JsonObject { ["kind"] = "event", ["action"] = "ssh-key-added", ["module"] = "snapshot", ["dataset"] = "snapshot" },
        ["host"] = new JsonObject { ["name"] = Host },
        ["user"] = new JsonObject { ["target"] = new JsonObject { ["name"] = "lena" } },
        ["file"] = new JsonObject { ["path"] = Account("intern7", "planted_in") },
        ["trainguard"] = new JsonObject
        {
            ["ssh"] = new JsonObject
            {
                ["key_type"] = "ssh-ed25519",
                ["key_fingerprint"] = Account("intern7", "planted_key"),
                ["key_file"] = Account("intern7", "planted_in"),
                ["key_line"] = 2,
                ["key_comment"] = "backup@vm",
            },
        },
    };

    private static JsonObject Json(EventRecord record) => JsonNode.Parse(record.ToJsonLine())!.AsObject();

    private static ReplayOptions Options() => new()
    {
        HostName = Host,
        AccountNames = PasswdFile.Load(Path.Combine(Folder, "passwd"), Path.Combine(Folder, "group")),

        // sshd's syslog lines carry no year: the recording was made on 2026-12-07.
        ReferenceTime = new DateTimeOffset(2026, 12, 8, 0, 0, 0, TimeSpan.Zero),
    };
}
