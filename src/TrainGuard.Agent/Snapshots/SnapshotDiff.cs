using System.Globalization;
using System.Text;
using TrainGuard.Agent.Detections;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;

namespace TrainGuard.Agent.Snapshots;

/// <summary>
/// Turns two snapshots into events: <c>ssh-key-added/removed</c>, <c>user-created/changed/deleted</c>
/// (uid 0 accounts other than the first flagged as duplicates), <c>socket-listen/closed</c>,
/// <c>persistence-changed</c>. Without a previous snapshot every fact is reported once as a baseline
/// (<c>event.kind: state</c>, <c>trainguard.snapshot.baseline: true</c>). How much an event matters is decided by
/// the detections (<c>Rules/detections.yaml</c>: a second uid-0 account, a preload library, a new key...).
/// </summary>
public static class SnapshotDiff
{
    public const string Module = "snapshot";
    private const int MaxDiffLines = 20;

    /// <summary>How far before the snapshot an audit write is joined to a new key.</summary>
    public static readonly TimeSpan DefaultJoinWindow = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The events between two snapshots, each with the finding of the detection that fires on it, if one does
    /// (<paramref name="detections"/>, default <see cref="AgentDetections.Default"/>).
    /// </summary>
    public static List<EventRecord> Diff(NodeSnapshot? previous, NodeSnapshot current, AuditJoin? join = null, TimeSpan? joinWindow = null, AgentDetections? detections = null)
    {
        var events = DiffEvents(previous, current, join, joinWindow);
        detections ??= AgentDetections.Default;
        events.ForEach(e => detections.Annotate(e));
        return events;
    }

    private static List<EventRecord> DiffEvents(NodeSnapshot? previous, NodeSnapshot current, AuditJoin? join, TimeSpan? joinWindow)
    {
        var events = new List<EventRecord>();
        var baseline = previous is null;
        previous ??= new NodeSnapshot();
        var now = current.TakenAt;

        // Accounts.
        var firstUidZero = current.Accounts.FirstOrDefault(a => a.Uid == 0)?.Name;
        var oldAccounts = previous.Accounts.GroupBy(a => a.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var newAccounts = current.Accounts.GroupBy(a => a.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var account in newAccounts.Values)
        {
            if (!oldAccounts.TryGetValue(account.Name, out var old))
            {
                events.Add(AccountEvent(now, EventActions.UserCreated, "creation", account, firstUidZero, baseline));
            }
            else if (old != account)
            {
                var e = AccountEvent(now, EventActions.UserChanged, "change", account, firstUidZero, baseline: false);
                var changes = new List<string>();
                Compare(changes, "uid", old.Uid.ToString(CultureInfo.InvariantCulture), account.Uid.ToString(CultureInfo.InvariantCulture));
                Compare(changes, "gid", old.Gid.ToString(CultureInfo.InvariantCulture), account.Gid.ToString(CultureInfo.InvariantCulture));
                Compare(changes, "home", old.Home, account.Home);
                Compare(changes, "shell", old.Shell, account.Shell);
                e.Set("trainguard.changes", changes);
                events.Add(e);
            }
        }

        foreach (var old in oldAccounts.Values.Where(a => !newAccounts.ContainsKey(a.Name)))
        {
            events.Add(AccountEvent(now, EventActions.UserDeleted, "deletion", old, firstUidZero, baseline: false));
        }

        // authorized_keys.
        var oldKeys = previous.SshKeys.GroupBy(k => k.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var newKeys = current.SshKeys.GroupBy(k => k.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var key in newKeys.Values.Where(k => !oldKeys.ContainsKey(k.Key)))
        {
            var e = KeyEvent(now, EventActions.SshKeyAdded, "creation", key, baseline);
            if (!baseline && join?.FindWriter(key.Path, now, joinWindow ?? DefaultJoinWindow) is { } writer)
            {
                AuditJoin.CopyActor(writer, e);
            }

            events.Add(e);
        }

        foreach (var key in oldKeys.Values.Where(k => !newKeys.ContainsKey(k.Key)))
        {
            events.Add(KeyEvent(now, EventActions.SshKeyRemoved, "deletion", key, baseline: false));
        }

        // Key files that exist but cannot be read: their keys are unknown, which is itself worth a look.
        var oldProblems = previous.KeyFileProblems.Select(p => p.Path + "|" + p.Reason).ToHashSet(StringComparer.Ordinal);
        foreach (var problem in current.KeyFileProblems.Where(p => !oldProblems.Contains(p.Path + "|" + p.Reason)))
        {
            events.Add(KeyFileEvent(now, problem, baseline));
        }

        // Sockets.
        var oldSockets = previous.Sockets.GroupBy(s => s.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var newSockets = current.Sockets.GroupBy(s => s.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var socket in newSockets.Values.Where(s => !oldSockets.ContainsKey(s.Key)))
        {
            events.Add(SocketEvent(now, EventActions.SocketListen, "start", socket, baseline));
        }

        foreach (var socket in oldSockets.Values.Where(s => !newSockets.ContainsKey(s.Key)))
        {
            events.Add(SocketEvent(now, EventActions.SocketClosed, "end", socket, baseline: false));
        }

        // Persistence.
        var oldFiles = previous.Persistence.ToDictionary(p => p.Path, StringComparer.Ordinal);
        var newFiles = current.Persistence.ToDictionary(p => p.Path, StringComparer.Ordinal);
        foreach (var file in newFiles.Values)
        {
            if (!oldFiles.TryGetValue(file.Path, out var old))
            {
                events.Add(PersistenceEvent(now, "creation", file, null, baseline));
            }
            else if (old.Sha256 != file.Sha256 || old.LinkTarget != file.LinkTarget)
            {
                events.Add(PersistenceEvent(now, "change", file, old, baseline: false));
            }
        }

        foreach (var old in oldFiles.Values.Where(f => !newFiles.ContainsKey(f.Path)))
        {
            events.Add(PersistenceEvent(now, "deletion", old, old, baseline: false));
        }

        return events;
    }

    private static EventRecord NewEvent(DateTimeOffset now, string action, string key, bool baseline, string[] category, string type)
    {
        var id = UuidV7.FromKey(now, Encoding.UTF8.GetBytes($"snapshot|{action}|{key}|{now.ToUnixTimeMilliseconds()}"));
        var e = new EventRecord(now, action, baseline ? EventKinds.State : EventKinds.Event, id);
        e.Set(EventFields.Category, category).Set(EventFields.Type, baseline ? ["info"] : new[] { type });
        e.Set(EventFields.Module, Module).Set(EventFields.Dataset, Module);
        if (baseline)
        {
            e.Set("trainguard.snapshot.baseline", true);
        }

        return e;
    }

    private static EventRecord AccountEvent(DateTimeOffset now, string action, string type, AccountState account, string? firstUidZero, bool baseline)
    {
        var e = NewEvent(now, action, account.Name + "|" + account.Uid.ToString(CultureInfo.InvariantCulture), baseline, ["iam"], type);
        e.Set(EventFields.Type, baseline ? ["info", "user"] : new[] { "user", type });
        e.Set("user.target.name", account.Name);
        e.Set("user.target.id", account.Uid.ToString(CultureInfo.InvariantCulture));
        e.Set("user.target.group.id", account.Gid.ToString(CultureInfo.InvariantCulture));
        e.Set("trainguard.account.home", account.Home);
        e.Set("trainguard.account.shell", account.Shell);
        if (account.Uid == 0)
        {
            e.Set("trainguard.uid_zero", true);
            if (!string.Equals(account.Name, firstUidZero, StringComparison.Ordinal) && action != EventActions.UserDeleted)
            {
                e.Set("trainguard.uid_zero_duplicate", true);
            }
        }

        return e;
    }

    private static EventRecord KeyEvent(DateTimeOffset now, string action, string type, SshKeyState key, bool baseline)
    {
        var e = NewEvent(now, action, key.Key, baseline, ["iam", "configuration"], type);
        e.Set("user.target.name", key.Account);
        e.Set("file.path", key.Path);
        e.Set("trainguard.ssh.key_type", key.Type);
        e.Set("trainguard.ssh.key_fingerprint", key.Fingerprint);
        e.Set("trainguard.ssh.key_file", key.Path);
        e.Set("trainguard.ssh.key_line", key.Line);
        if (key.Options.Length > 0)
        {
            e.Set("trainguard.ssh.key_options", key.Options);
        }

        if (key.Comment is not null)
        {
            e.Set("trainguard.ssh.key_comment", key.Comment);
        }

        if (key.LineBytes is { } bytes)
        {
            e.Set("trainguard.ssh.line_bytes", bytes);
            e.Set("trainguard.ssh.line_sha256", key.LineSha256);
        }

        if (key.Unparsed is { } reason)
        {
            // A line sshd may accept that the agent cannot read as a key: reported by its hash and first bytes.
            e.Set("trainguard.ssh.unparsed", true);
            e.Set("trainguard.ssh.unparsed_reason", reason);
            e.Set("trainguard.ssh.line_sha256", key.LineSha256);
        }

        return e;
    }

    private static EventRecord KeyFileEvent(DateTimeOffset now, KeyFileProblem problem, bool baseline)
    {
        var e = NewEvent(now, AgentActions.SshKeyFileUnreadable, problem.Path + "|" + problem.Reason, baseline, ["iam", "configuration"], "info");
        e.Set("user.target.name", problem.Account);
        e.Set("file.path", problem.Path);
        e.Set("file.type", problem.Type);
        e.Set("trainguard.ssh.key_file", problem.Path);
        e.Set("error.message", problem.Reason);
        return e;
    }

    private static EventRecord SocketEvent(DateTimeOffset now, string action, string type, SocketState socket, bool baseline)
    {
        var e = NewEvent(now, action, socket.Key, baseline, ["network"], type);
        e.Set("network.transport", socket.Transport);
        e.Set("source.ip", socket.Address);
        e.Set("source.port", socket.Port);
        e.Set("user.id", socket.Uid.ToString(CultureInfo.InvariantCulture));
        e.Set("trainguard.socket.inode", socket.Inode);
        if (socket.Pid is { } pid)
        {
            e.Set("process.pid", pid);
        }

        e.Set("process.name", socket.Process);
        e.Set("process.executable", socket.Executable);
        return e;
    }

    private static EventRecord PersistenceEvent(DateTimeOffset now, string type, PersistenceFile file, PersistenceFile? old, bool baseline)
    {
        var e = NewEvent(now, EventActions.PersistenceChanged, file.Path + "|" + type + "|" + file.Sha256, baseline, ["configuration"], type);
        e.Set("file.path", file.Path);
        e.Set("trainguard.persistence.kind", file.Kind);
        if (type != "deletion")
        {
            e.Set("file.size", file.Size);
            if (!file.Sha256.StartsWith("size:", StringComparison.Ordinal))
            {
                e.Set("file.hash.sha256", file.Sha256);
            }

            e.Set("trainguard.persistence.link_target", file.LinkTarget);
        }

        if (!baseline && (file.Lines is not null || old?.Lines is not null))
        {
            var before = type == "creation" ? [] : old?.Lines ?? [];
            var after = type == "deletion" ? [] : file.Lines ?? [];
            var added = Subtract(after, before);
            var removed = Subtract(before, after);
            e.Set("trainguard.diff.added", added.Take(MaxDiffLines).Select(Trim));
            e.Set("trainguard.diff.removed", removed.Take(MaxDiffLines).Select(Trim));
            e.Set("trainguard.diff.summary", $"+{added.Count} -{removed.Count} lines");
        }

        return e;
    }

    private static List<string> Subtract(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in b)
        {
            counts[line] = counts.GetValueOrDefault(line) + 1;
        }

        var result = new List<string>();
        foreach (var line in a)
        {
            if (counts.TryGetValue(line, out var n) && n > 0)
            {
                counts[line] = n - 1;
            }
            else
            {
                result.Add(line);
            }
        }

        return result;
    }

    private static string Trim(string line) => Findings.TextSanitizer.Escape(line, 300);

    private static void Compare(List<string> changes, string field, string before, string after)
    {
        if (before != after)
        {
            changes.Add($"{field}: {before} -> {after}");
        }
    }
}
