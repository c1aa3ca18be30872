using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Sshd;
using TrainGuard.Events;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Agent.Detections;

/// <summary>
/// Turns a detection's sample into the events the agent derives from it, through the collectors themselves:
/// <list type="bullet">
/// <item>audit log text (or <c>{audit: TEXT}</c>): read by <see cref="AuditCollector"/> as if tailed from <c>audit.log</c> on <c>node1</c>;</item>
/// <item><c>{sshd: TEXT}</c>: sshd log lines or journal entries, read by <see cref="SshdCollector"/>;</item>
/// <item><c>{before: {PATH: TEXT}, after: {PATH: TEXT or null}}</c>: a node root written to a temporary folder (paths relative
/// to <c>/</c>: <c>etc/passwd</c>, <c>home/alice/.ssh/authorized_keys</c>, <c>proc/net/tcp</c>...), snapshotted, changed as
/// <c>after</c> says (null deletes; a file is text, a list of text and <c>{repeat: TEXT, times: N}</c> parts, or
/// <c>{link: TARGET}</c>), snapshotted again and diffed by <see cref="SnapshotDiff"/>. Without <c>before</c> the
/// snapshot is the first one (baseline events).</item>
/// </list>
/// A sample that is not one of these, or audit text with unparseable lines, is an <see cref="MalformedInputException"/> (kind <see cref="InputErrorKind.Config"/>).
/// </summary>
public static class DetectionSamples
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// The events of any sample, including <c>{ack: {kept: N, answer: M, fork: BOOL}}</c>: the shipper's acknowledgement
    /// check fed two signed tree heads (<see cref="AcknowledgementSamples"/>).
    /// </summary>
    public static async ValueTask<IReadOnlyList<EventRecord>> EventsAsync(string sample, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.TrimStart().StartsWith('{') && ParseObject(sample) is { } spec && AcknowledgementSamples.IsAcknowledgementSample(spec))
        {
            return await AcknowledgementSamples.EventsAsync(spec, cancellationToken);
        }

        return Events(sample);
    }

    public static IReadOnlyList<EventRecord> Events(string sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (!sample.TrimStart().StartsWith('{'))
        {
            return Audit(sample);
        }

        var spec = ParseObject(sample);

        if (spec["audit"] is JsonValue audit && audit.GetValueKind() == JsonValueKind.String && spec.Count == 1)
        {
            return Audit(audit.GetValue<string>());
        }

        if (spec["sshd"] is JsonValue sshd && sshd.GetValueKind() == JsonValueKind.String && spec.Count == 1)
        {
            return Sshd(sshd.GetValue<string>());
        }

        if (spec["after"] is JsonObject after && spec.All(p => p.Key is "before" or "after"))
        {
            return Snapshot(spec["before"] as JsonObject, after);
        }

        throw MalformedInputException.Create(InputErrorKind.Config, "a detection sample is audit log text, {audit: TEXT}, {sshd: TEXT}, {before: {PATH: FILE}, after: {PATH: FILE or null}} or {ack: {kept: N, answer: M}} (read with EventsAsync)");
    }

    private static JsonObject ParseObject(string sample)
    {
        try
        {
            return JsonNode.Parse(sample) as JsonObject ?? throw MalformedInputException.Create(InputErrorKind.Config, "a detection sample must be an object");
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"a detection sample is not valid JSON: {ex.Message}", inner: ex);
        }
    }

    private static List<EventRecord> Audit(string text)
    {
        var events = new List<EventRecord>();
        var collector = new AuditCollector(new AuditCollectorOptions { HostName = "node1", SourcePath = "audit.log" }, events.Add);
        collector.ProcessStream(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        collector.Flush();
        if (collector.Stats.ParseErrors > 0)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"the sample's audit text has {collector.Stats.ParseErrors} unparseable line(s)");
        }

        return events;
    }

    private static List<EventRecord> Sshd(string text)
    {
        var events = new List<EventRecord>();
        var collector = new SshdCollector(new SshdCollectorOptions { HostName = "node1", SourcePath = "auth.log", ReferenceTime = T0 }, events.Add);
        collector.ProcessStream(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        if (collector.Stats.ParseErrors > 0)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"the sample's sshd text has {collector.Stats.ParseErrors} unparseable line(s)");
        }

        return events;
    }

    private static List<EventRecord> Snapshot(JsonObject? before, JsonObject after)
    {
        using var sampleFolder = new SampleFolder("detection-sample");
        var root = sampleFolder.Path;
        var reader = new SnapshotReader(new SnapshotOptions { Root = root, ResolveSocketOwners = false });
        NodeSnapshot? previous = null;
        if (before is not null)
        {
            Apply(root, before);
            previous = reader.Read(T0);
        }

        Apply(root, after);
        return SnapshotDiff.Diff(previous, reader.Read(T0.AddMinutes(1)));
    }

    /// <summary>A file's text: a string, or a list of strings and <c>{repeat: TEXT, times: N}</c> parts joined (long lines without long samples).</summary>
    private static string Text(JsonNode? content, string relative) => content switch
    {
        JsonValue text when text.GetValueKind() == JsonValueKind.String => text.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select(part => part switch
        {
            JsonObject { Count: 2 } repeat when repeat["repeat"] is JsonValue r && r.GetValueKind() == JsonValueKind.String
                && repeat["times"] is JsonValue t && t.TryGetValue<int>(out var times) && times is >= 0 and <= 1_000_000
                => string.Concat(Enumerable.Repeat(r.GetValue<string>(), times)),
            _ => Text(part, relative),
        })),
        _ => throw MalformedInputException.Create(InputErrorKind.Config, $"sample file '{relative}' must be text, a list of parts, {{link: TARGET}} (or null to delete it)"),
    };

    private static void Apply(string root, JsonObject files)
    {
        foreach (var (relative, content) in files)
        {
            if (relative.Length == 0 || Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"sample path '{relative}' must be relative to the node root, without '..'");
            }

            var path = Path.Combine(root, relative);
            if (content is null)
            {
                File.Delete(path);
                continue;
            }

            if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
            {
                File.Delete(path);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (content is JsonObject { Count: 1 } link && link["link"] is JsonValue target && target.GetValueKind() == JsonValueKind.String)
            {
                File.CreateSymbolicLink(path, target.GetValue<string>());
                continue;
            }

            File.WriteAllText(path, Text(content, relative));
        }
    }
}
