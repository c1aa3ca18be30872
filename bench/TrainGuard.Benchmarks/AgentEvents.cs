using System.Text;
using TrainGuard.Events;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Events as the agent writes them (<see cref="EventRecord.ToJsonLine"/>: members in the order set, id first),
/// each kind split around its id so batches get fresh ids cheaply. By default the kill is of another user's process and
/// the scanned checkpoint malicious (every event of those kinds raises a detection); <c>benign</c> makes them an
/// account stopping its own process and a clean scan, as most of a cluster's traffic is. With <c>host</c> every event
/// comes from that node (as one host-bound agent token may send).
/// </summary>
internal sealed class AgentEvents
{
    private const string IdMark = "00000000-0000-7000-8000-000000000000";
    private readonly (byte[] Before, byte[] After)[] _kinds;

    public AgentEvents(bool benign = false, string? host = null)
    {
        var at = new DateTimeOffset(2026, 11, 23, 10, 12, 4, 551, TimeSpan.Zero);
        EventRecord[] kinds =
        [
            new EventRecord(at, EventActions.ProcessSignal, id: IdMark)
                .Set("event.category", ["process"]).Set("event.type", ["end"]).Set(EventFields.Module, "auditd").Set(EventFields.Dataset, "auditd").Set(EventFields.Outcome, "success")
                .Set(EventFields.HostName, "gpu-node-17").Set(EventFields.AgentVersion, "0.1.0").Set("user.name", "mallory").Set("user.id", "1600").Set("user.audit.id", "1600").Set("user.audit.name", "mallory")
                .Set("process.pid", 41877).Set("process.name", "kill").Set("process.executable", "/usr/bin/kill").Set("process.args", ["kill", "-9", "5120"])
                .Set("trainguard.signal.name", "SIGKILL").Set("trainguard.signal.number", 9).Set("trainguard.target.pid", 5120).Set("trainguard.target.name", "python3")
                .Set("trainguard.target.user.name", benign ? "mallory" : "alice").Set("trainguard.target.user.audit.id", benign ? "1600" : "1001").Set("trainguard.cross_user", !benign),
            new EventRecord(at, EventActions.FileChanged, id: IdMark)
                .Set("event.category", ["file"]).Set("event.type", ["change"]).Set(EventFields.Module, "auditd").Set(EventFields.HostName, "gpu-node-03").Set(EventFields.AgentVersion, "0.1.0")
                .Set("user.name", "bob").Set("user.id", "1002").Set("process.pid", 90211).Set("process.executable", "/opt/conda/bin/python3.11")
                .Set("file.path", "/mnt/shared/runs/llama-7b/step-12000/optimizer.pt").Set("file.size", 14_738_221_056L).Set("trainguard.run", "llama-7b-sft"),
            new EventRecord(at, EventActions.UserLogin, id: IdMark)
                .Set("event.category", ["authentication", "session"]).Set("event.type", ["start"]).Set(EventFields.Outcome, "success").Set(EventFields.HostName, "gpu-node-09")
                .Set(EventFields.Module, "system").Set(EventFields.Dataset, "auth").Set(EventFields.AgentVersion, "0.1.0").Set("user.name", "carol").Set("user.id", "1003")
                .Set("source.ip", "10.20.3.41").Set("source.port", 51234).Set("process.pid", 2211).Set("process.name", "sshd").Set("process.executable", "/usr/sbin/sshd")
                .Set("trainguard.auth.method", "publickey").Set("trainguard.auth.key_fingerprint", "SHA256:4j1rWn0m5Qy7cHvN2sS8bKqVd3xZp6tL9aE0fGhIuJk"),
            new EventRecord(at, EventActions.ArtifactScanned, id: IdMark)
                .Set("event.category", ["file", "intrusion_detection"]).Set("event.type", ["info"]).Set(EventFields.Kind, EventKinds.Alert).Set(EventFields.HostName, "gpu-node-17")
                .Set(EventFields.AgentVersion, "0.1.0").Set("file.path", "/mnt/shared/runs/llama-7b/step-12000/model-00002-of-00004.safetensors")
                .Set("file.hash.sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").Set(EventFields.TrainGuardSeverity, benign ? "info" : "high")
                .Set("trainguard.finding.rule", "TG-PKL-001").Set("trainguard.finding.message", "pickle global os.system reached through a memoized STACK_GLOBAL; loading this file runs a command")
                .Set("trainguard.finding.location", "data.pkl offset 1311").Set("trainguard.verdict", benign ? "clean" : "malicious"),
        ];
        _kinds = [.. kinds.Select(k => Split(host is null ? k : k.Set(EventFields.HostName, host)))];
    }

    /// <summary>A body <c>{"events":[...]}</c> of <paramref name="count"/> events, kinds in turn, fresh UUIDv7 ids.</summary>
    public byte[] Body(int count)
    {
        var body = new MemoryStream(count * 700);
        body.Write("{\"events\":["u8);
        Span<byte> id = stackalloc byte[36];
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                body.WriteByte((byte)',');
            }

            var (before, after) = _kinds[i % _kinds.Length];
            Guid.CreateVersion7().TryFormat(id, out _, "D");
            body.Write(before);
            body.Write(id);
            body.Write(after);
        }

        body.Write("]}"u8);
        return body.ToArray();
    }

    private static (byte[] Before, byte[] After) Split(EventRecord record)
    {
        var line = record.ToJsonLine();
        var at = line.IndexOf(IdMark, StringComparison.Ordinal);
        return (Encoding.UTF8.GetBytes(line[..at]), Encoding.UTF8.GetBytes(line[(at + IdMark.Length)..]));
    }
}
