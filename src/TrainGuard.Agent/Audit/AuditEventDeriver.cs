using System.Globalization;
using System.Net;
using System.Text;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Detections;
using TrainGuard.Events;

namespace TrainGuard.Agent.Audit;

/// <summary>
/// Turns one assembled audit event (a group of records) into TrainGuard events (docs/events.md):
/// signals, login uid changes, watched-file changes, account changes, logins and audit
/// configuration changes. Groups that match none of these yield nothing. Which events deserve attention is decided by
/// the detections (<c>Rules/detections.yaml</c>), not here.
/// </summary>
public sealed class AuditEventDeriver
{
    public const string Module = "auditd";

    private const int OpenAccessModeMask = 0x3;
    private const int OpenCreate = 0x40;
    private const int OpenTruncate = 0x200;

    private readonly AuditCollectorOptions _options;
    private readonly CollectorStats _stats;

    public AuditEventDeriver(AuditCollectorOptions options, CollectorStats stats)
    {
        _options = options;
        _stats = stats;
    }

    /// <summary>
    /// Derives the events of <paramref name="group"/> and passes each to <paramref name="emit"/>, with the finding of the
    /// detection that fires on it, if one does (<see cref="AgentDetections"/>).
    /// </summary>
    public void Derive(AuditEventGroup group, Action<EventRecord> emit)
    {
        var detections = AgentDetections.Default;
        DeriveEvents(group, e => emit(detections.Annotate(e)));
    }

    private void DeriveEvents(AuditEventGroup group, Action<EventRecord> emit)
    {
        var first = group.Records[0];
        switch (first.Type)
        {
            case "ADD_USER" or "DEL_USER" or "USER_MGMT" or "USER_CHAUTHTOK" or "ADD_GROUP" or "DEL_GROUP" or "GRP_MGMT" or "GRP_CHAUTHTOK":
                emit(Account(group, first));
                return;
            case "USER_AUTH" or "CRED_ACQ" or "USER_START" or "USER_LOGIN" or "USER_END" or "USER_LOGOUT":
                emit(Login(group, first));
                return;
            case "DAEMON_END" or "DAEMON_ABORT" or "DAEMON_CONFIG":
                emit(AuditConfig(group, first, null));
                return;
            case "SERVICE_STOP" when first.GetText("unit") == "auditd":
                emit(AuditConfig(group, first, null));
                return;
        }

        var syscall = group.Find("SYSCALL");
        if (group.Find("LOGIN") is { } login)
        {
            emit(LoginUid(group, login, syscall));
            return;
        }

        if (group.Find("CONFIG_CHANGE") is { } config)
        {
            emit(AuditConfig(group, config, syscall));
            return;
        }

        if (syscall is null)
        {
            if (group.Find("OBJ_PID") is not null)
            {
                _stats.UnattributedSignals++;
            }

            return;
        }

        var arch = syscall.TryGetHex("arch", out var archValue) ? SyscallTable.ArchFromAuditValue(archValue) : AuditArch.Unknown;
        var number = syscall.GetInt64("syscall") ?? -1;
        var enrichedName = syscall.GetEnriched("SYSCALL");
        var signal = SyscallTable.SignalSyscallFor(arch, number) ?? SyscallTable.SignalSyscallByName(enrichedName);
        if (signal is not null)
        {
            Signals(group, syscall, signal, arch, emit);
            return;
        }

        if (syscall.GetText("key") is not null)
        {
            Files(group, syscall, arch, number, enrichedName, emit);
        }
    }

    private void Signals(AuditEventGroup group, AuditRecord syscall, SignalSyscall signal, AuditArch arch, Action<EventRecord> emit)
    {
        var signo = ArgInt32(syscall, signal.SignalArg);
        if (signo == 0 && !_options.IncludeSignalProbes)
        {
            _stats.SignalProbesSkipped++;
            return;
        }

        var senderAuid = syscall.TryGetInt64("auid", out var a) ? AuditValues.NormalizeId(a) : (long?)null;
        var victims = group.All("OBJ_PID").ToList();
        var count = Math.Max(victims.Count, 1);
        for (var i = 0; i < count; i++)
        {
            var e = NewEvent(group, i, EventActions.ProcessSignal, ["process"], ["info"]);
            ApplyActor(e, syscall, group.Find("PROCTITLE"));
            Outcome(e, syscall);
            e.Set("trainguard.syscall", signal.Name);
            e.Set("trainguard.audit.arch", SyscallTable.ArchName(arch));
            Key(e, syscall);
            if (signo is { } s)
            {
                e.Set("trainguard.signal.number", s);
                e.Set("trainguard.signal.name", SignalNames.Name(s));
            }

            if (signal.TargetArg >= 0 && ArgInt32(syscall, signal.TargetArg) is { } targetArg)
            {
                e.Set("trainguard.signal.target_arg", targetArg);
                if (signal.Name == "kill")
                {
                    e.Set("trainguard.signal.scope", targetArg switch
                    {
                        > 0 => "process",
                        0 => "own-process-group",
                        -1 => "all-processes",
                        _ => "process-group",
                    });
                }
            }

            if (i < victims.Count)
            {
                var victim = victims[i];
                SetNumber(e, "trainguard.target.pid", victim, "opid");
                SetText(e, "trainguard.target.name", victim.GetText("ocomm"));
                SetNumber(e, "trainguard.target.session_id", victim, "oses");
                if (victim.TryGetInt64("ouid", out var ouid))
                {
                    ouid = AuditValues.NormalizeId(ouid);
                    e.Set("trainguard.target.user.id", Id(ouid));
                    SetText(e, "trainguard.target.user.name", UserName(victim, "OUID", ouid));
                }

                if (victim.TryGetInt64("oauid", out var oauid))
                {
                    oauid = AuditValues.NormalizeId(oauid);
                    e.Set("trainguard.target.user.audit.id", Id(oauid));
                    SetText(e, "trainguard.target.user.audit.name", UserName(victim, "OAUID", oauid));
                    if (senderAuid is { } sender)
                    {
                        e.Set("trainguard.cross_user", sender != oauid);
                    }
                }
            }
            else if (signal.TargetArg >= 0 && ArgInt32(syscall, signal.TargetArg) is > 0 and var pid)
            {
                e.Set("trainguard.target.pid", pid);
            }

            emit(e);
        }
    }

    private EventRecord LoginUid(AuditEventGroup group, AuditRecord login, AuditRecord? syscall)
    {
        var e = NewEvent(group, 0, EventActions.LoginUidChanged, ["iam"], ["user", "change"]);
        if (syscall is not null)
        {
            ApplyActor(e, syscall, group.Find("PROCTITLE"));
        }

        // Two layouts: "old-auid=X auid=Y old-ses=.. ses=.." (kernel 4.x and later) and
        // "old auid=X new auid=Y old ses=.. new ses=.." (older kernels: the first auid is the old one).
        long? oldAuid;
        long? newAuid;
        long? newSes;
        if (login.TryGetInt64("old-auid", out var o))
        {
            oldAuid = o;
            newAuid = login.GetInt64("auid");
            newSes = login.GetInt64("ses");
        }
        else
        {
            oldAuid = login.GetInt64("auid", 0);
            newAuid = login.GetInt64("auid", 1);
            newSes = login.GetInt64("ses", 1);
        }

        if (oldAuid is { } oldId)
        {
            oldId = AuditValues.NormalizeId(oldId);
            e.Set("trainguard.loginuid.old.id", Id(oldId));
            SetText(e, "trainguard.loginuid.old.name", UserName(login, "OLD-AUID", oldId));
            e.Set("user.audit.id", Id(oldId));
            SetText(e, "user.audit.name", UserName(login, "OLD-AUID", oldId));
        }

        if (newAuid is { } newId)
        {
            newId = AuditValues.NormalizeId(newId);
            e.Set("trainguard.loginuid.new.id", Id(newId));
            SetText(e, "trainguard.loginuid.new.name", UserName(login, "AUID", newId));
        }

        if (newSes is { } ses)
        {
            e.Set("process.session_id", ses);
        }

        SetNumber(e, "process.pid", login, "pid");
        if (login.TryGetInt64("uid", out var uid))
        {
            e.Set("user.id", Id(uid));
            SetText(e, "user.name", UserName(login, "UID", uid));
        }

        var res = login.GetText("res");
        e.Set(EventFields.Outcome, res is "1" or "success" ? EventOutcomes.Success : res is "0" or "failed" ? EventOutcomes.Failure : EventOutcomes.Unknown);
        var exe = syscall?.GetText("exe");
        var comm = syscall?.GetText("comm");
        if (exe is not null || comm is not null)
        {
            e.Set("trainguard.forged", !IsLoginService(exe, comm));
        }

        return e;
    }

    /// <summary>True when the process that set the login uid is a PAM login service in a system directory.</summary>
    public bool IsLoginService(string? exe, string? comm)
    {
        if (exe is not null)
        {
            var slash = exe.LastIndexOf('/');
            var dir = slash > 0 ? exe[..slash] : string.Empty;
            var name = exe[(slash + 1)..];
            return _options.LoginServices.Contains(name) && _options.TrustedDirectories.Contains(dir);
        }

        return comm is not null && _options.LoginServices.Contains(comm);
    }

    private void Files(AuditEventGroup group, AuditRecord syscall, AuditArch arch, long number, string? enrichedName, Action<EventRecord> emit)
    {
        if (SyscallTable.IsExec(arch, number, enrichedName))
        {
            return;
        }

        var flagsArg = SyscallTable.OpenFlagsArg(arch, number, enrichedName);
        if (flagsArg >= 0 && syscall.TryGetHex("a" + flagsArg.ToString(CultureInfo.InvariantCulture), out var flags))
        {
            var write = (flags & OpenAccessModeMask) != 0 || (flags & (OpenCreate | OpenTruncate)) != 0;
            if (!write)
            {
                return;
            }
        }

        var cwd = group.Find("CWD")?.GetText("cwd");
        AuditRecord? deleted = null;
        AuditRecord? created = null;
        var items = new List<(AuditRecord Path, string NameType)>();
        foreach (var path in group.All("PATH"))
        {
            var nametype = path.GetText("nametype");
            switch (nametype)
            {
                case "DELETE":
                    deleted ??= path;
                    items.Add((path, nametype));
                    break;
                case "CREATE":
                    created = path;
                    items.Add((path, nametype));
                    break;
                case "NORMAL":
                    items.Add((path, nametype));
                    break;
            }
        }

        var syscallName = enrichedName ?? SyscallTable.FileSyscallName(arch, number);
        var proctitle = group.Find("PROCTITLE");
        var index = 0;
        if (deleted is not null && created is not null)
        {
            var e = FileEvent(group, index++, EventActions.FileRenamed, "change", syscall, proctitle, syscallName, deleted, cwd);
            SetText(e, "file.target_path", ResolvePath(created.GetText("name"), cwd));
            emit(e);
            return;
        }

        foreach (var (path, nametype) in items)
        {
            var (action, type) = nametype switch
            {
                "CREATE" => (EventActions.FileCreated, "creation"),
                "DELETE" => (EventActions.FileDeleted, "deletion"),
                _ => (EventActions.FileChanged, "change"),
            };
            emit(FileEvent(group, index++, action, type, syscall, proctitle, syscallName, path, cwd));
        }
    }

    private EventRecord FileEvent(AuditEventGroup group, int index, string action, string type, AuditRecord syscall, AuditRecord? proctitle, string? syscallName, AuditRecord path, string? cwd)
    {
        var e = NewEvent(group, index, action, ["file"], [type]);
        ApplyActor(e, syscall, proctitle);
        Outcome(e, syscall);
        Key(e, syscall);
        SetText(e, "trainguard.syscall", syscallName);
        var full = ResolvePath(path.GetText("name"), cwd);
        if (full is not null)
        {
            e.Set("file.path", full);
            var slash = full.LastIndexOf('/');
            if (slash >= 0 && slash < full.Length - 1)
            {
                e.Set("file.name", full[(slash + 1)..]);
                e.Set("file.directory", slash == 0 ? "/" : full[..slash]);
            }
        }

        SetText(e, "file.inode", path.GetText("inode"));
        if (path.GetText("mode") is { } modeText && TryParseOctal(modeText, out var mode))
        {
            e.Set("file.mode", "0" + Convert.ToString(mode & 0xFFF, 8).PadLeft(3, '0'));
            e.Set("file.type", (mode & 0xF000) switch
            {
                0x8000 => "file",
                0x4000 => "dir",
                0xA000 => "symlink",
                _ => "other",
            });
        }

        if (path.TryGetInt64("ouid", out var ouid))
        {
            e.Set("file.uid", Id(ouid));
            SetText(e, "file.owner", UserName(path, "OUID", ouid));
        }

        if (path.TryGetInt64("ogid", out var ogid))
        {
            e.Set("file.gid", Id(ogid));
            SetText(e, "file.group", path.GetEnriched("OGID") ?? _options.AccountNames?.GroupName(ogid));
        }

        return e;
    }

    private EventRecord Account(AuditEventGroup group, AuditRecord record)
    {
        var isGroup = record.Type.Contains("GROUP", StringComparison.Ordinal) || record.Type.StartsWith("GRP_", StringComparison.Ordinal);
        var (action, type) = record.Type switch
        {
            "ADD_USER" or "ADD_GROUP" => (EventActions.UserCreated, "creation"),
            "DEL_USER" or "DEL_GROUP" => (EventActions.UserDeleted, "deletion"),
            _ => (EventActions.UserChanged, "change"),
        };
        var e = NewEvent(group, 0, action, ["iam"], [isGroup ? "group" : "user", type]);
        ApplyUserSpaceActor(e, record);
        var prefix = isGroup ? "user.target.group" : "user.target";
        var acct = record.GetText("acct");
        long? id = record.TryGetInt64("id", out var parsedId) ? parsedId : null;
        var name = acct ?? CreatedAccountName(record, isGroup, id) ?? KnownName(record.GetEnriched("ID"));
        if (name is null && id is { } lookup)
        {
            name = isGroup ? _options.AccountNames?.GroupName(lookup) : _options.AccountNames?.UserName(lookup);
        }

        SetText(e, prefix + ".name", name);
        if (id is { } uid)
        {
            e.Set(prefix + ".id", Id(uid));
            if (!isGroup && uid == 0)
            {
                e.Set("trainguard.uid_zero", true);
            }
        }

        SetText(e, "trainguard.audit.op", record.GetText("op"));
        return e;
    }

    /// <summary>
    /// The name of an account <c>useradd</c> just created with a uid another account already has (<c>useradd -o -u 0
    /// sysbackup</c>): auditd's enrichment and getpwuid answer the first account with the uid (root), so the newest
    /// line of the node's passwd with that uid names the account that was added. Null when nothing better is known.
    /// </summary>
    private string? CreatedAccountName(AuditRecord record, bool isGroup, long? id)
    {
        if (isGroup || record.Type != "ADD_USER" || id is not { } uid || _options.AccountNames is not { } names)
        {
            return null;
        }

        var newest = names.NewestUserName(uid);
        return newest is not null && newest != names.UserName(uid) ? newest : null;
    }

    private EventRecord Login(AuditEventGroup group, AuditRecord record)
    {
        var (action, phase, type) = record.Type switch
        {
            "USER_AUTH" => (EventActions.UserLogin, "authentication", "info"),
            "CRED_ACQ" => (EventActions.UserLogin, "credentials", "info"),
            "USER_START" => (EventActions.UserLogin, "session-open", "start"),
            "USER_LOGIN" => (EventActions.UserLogin, "login", "start"),
            "USER_END" => (EventActions.UserLogout, "session-close", "end"),
            _ => (EventActions.UserLogout, "logout", "end"),
        };
        var e = NewEvent(group, 0, action, ["authentication"], [type]);
        ApplyUserSpaceActor(e, record);
        e.Set("trainguard.login.phase", phase);
        SetText(e, "trainguard.audit.op", record.GetText("op"));
        SetText(e, "trainguard.audit.terminal", record.GetText("terminal"));

        // The account logging in: acct= (PAM records) or id= (USER_LOGIN), replacing the actor's uid.
        var acct = record.GetText("acct");
        if (record.TryGetInt64("id", out var id))
        {
            e.Set("user.id", Id(id));
            e.Set("user.name", acct ?? KnownName(record.GetEnriched("ID")) ?? _options.AccountNames?.UserName(id));
        }
        else if (acct is not null)
        {
            e.Remove("user.id");
            e.Set("user.name", acct);
        }

        if (record.GetText("addr") is { } addr && IPAddress.TryParse(addr, out var ip))
        {
            e.Set("source.ip", ip.ToString());
        }

        if (record.GetText("hostname") is { } host && host != record.GetText("addr"))
        {
            e.Set("source.domain", host);
        }

        return e;
    }

    private EventRecord AuditConfig(AuditEventGroup group, AuditRecord record, AuditRecord? syscall)
    {
        var e = NewEvent(group, 0, EventActions.AuditConfigChanged, ["configuration"], record.Type is "CONFIG_CHANGE" or "DAEMON_CONFIG" ? ["change"] : ["change", "end"]);
        if (syscall is not null)
        {
            ApplyActor(e, syscall, group.Find("PROCTITLE"));
        }
        else
        {
            ApplyUserSpaceActor(e, record);
        }

        e.Set("trainguard.audit.record_type", record.Type);
        SetText(e, "trainguard.audit.op", record.GetText("op") ?? (record.Type == "SERVICE_STOP" ? "stop" : null));
        SetText(e, "trainguard.audit.key", record.GetText("key"));
        if (record.Type == "CONFIG_CHANGE")
        {
            // op=set carries the setting as its own field: "audit_enabled=0 old=1".
            foreach (var field in record.Fields)
            {
                var name = Encoding.ASCII.GetString(record.Raw.AsSpan(field.NameStart, field.NameLength));
                if ((field.Flags & AuditFieldFlags.Enriched) == 0 && name is not ("auid" or "ses" or "subj" or "op" or "res" or "key" or "list" or "old" or "pid" or "uid"))
                {
                    e.Set("trainguard.audit.setting.name", name);
                    SetText(e, "trainguard.audit.setting.value", record.GetText(name));
                    SetText(e, "trainguard.audit.setting.old", record.GetText("old"));
                    break;
                }
            }

            var res = record.GetText("res");
            e.Set(EventFields.Outcome, res is "1" or "success" ? EventOutcomes.Success : res is "0" or "failed" ? EventOutcomes.Failure : EventOutcomes.Unknown);
        }

        return e;
    }

    private EventRecord NewEvent(AuditEventGroup group, int index, string action, string[] category, string[] type)
    {
        var host = group.Node ?? _options.HostName ?? "unknown";
        var key = string.Create(CultureInfo.InvariantCulture, $"auditd|{host}|{group.Seconds}.{group.Milliseconds:D3}:{group.Serial}|{index}");
        var id = UuidV7.FromKey(group.Timestamp, Encoding.UTF8.GetBytes(key));
        var e = new EventRecord(group.Timestamp, action, EventKinds.Event, id);
        e.Set(EventFields.Category, category);
        e.Set(EventFields.Type, type);
        e.Set(EventFields.Module, Module);
        e.Set(EventFields.Dataset, Module);
        e.Set(EventFields.HostName, host);
        SetText(e, EventFields.HostId, _options.HostId);
        SetText(e, EventFields.AgentId, _options.AgentId);
        e.Set(EventFields.AgentVersion, ToolInfo.Version);
        e.Set("trainguard.audit.serial", (long)Math.Min(group.Serial, long.MaxValue));
        e.Set("trainguard.audit.line", group.FirstLine);
        SetText(e, "log.file.path", _options.SourcePath);
        if (_options.IncludeOriginal)
        {
            e.Set("event.original", string.Join('\n', group.Records.Select(r => r.ToString())));
        }

        return e;
    }

    private void ApplyActor(EventRecord e, AuditRecord syscall, AuditRecord? proctitle)
    {
        ApplyUserIds(e, syscall);
        if (syscall.TryGetInt64("euid", out var euid))
        {
            e.Set("user.effective.id", Id(euid));
            SetText(e, "user.effective.name", UserName(syscall, "EUID", euid));
        }

        if (syscall.TryGetInt64("gid", out var gid))
        {
            e.Set("user.group.id", Id(gid));
            SetText(e, "user.group.name", syscall.GetEnriched("GID") ?? _options.AccountNames?.GroupName(gid));
        }

        SetNumber(e, "process.pid", syscall, "pid");
        SetNumber(e, "process.parent.pid", syscall, "ppid");
        SetNumber(e, "process.session_id", syscall, "ses");
        SetText(e, "process.executable", syscall.GetText("exe"));
        SetText(e, "process.name", syscall.GetText("comm"));
        if (proctitle?.GetText("proctitle") is { } title)
        {
            var args = title.Split('\0', StringSplitOptions.RemoveEmptyEntries);
            if (args.Length > 0)
            {
                e.Set("process.args", args);
                e.Set("process.command_line", string.Join(' ', args));
            }
        }
    }

    private void ApplyUserSpaceActor(EventRecord e, AuditRecord record)
    {
        ApplyUserIds(e, record);
        SetNumber(e, "process.pid", record, "pid");
        SetNumber(e, "process.session_id", record, "ses");
        if (record.GetText("exe") is { } exe)
        {
            e.Set("process.executable", exe);
            e.Set("process.name", exe[(exe.LastIndexOf('/') + 1)..]);
        }

        var res = record.GetText("res");
        e.Set(EventFields.Outcome, res is "success" or "1" ? EventOutcomes.Success : res is "failed" or "0" ? EventOutcomes.Failure : EventOutcomes.Unknown);
    }

    /// <summary>The login (audit) and real user of a kernel or user-space record, with their names where known.</summary>
    private void ApplyUserIds(EventRecord e, AuditRecord record)
    {
        if (record.TryGetInt64("auid", out var auid))
        {
            auid = AuditValues.NormalizeId(auid);
            e.Set("user.audit.id", Id(auid));
            SetText(e, "user.audit.name", UserName(record, "AUID", auid));
        }

        if (record.TryGetInt64("uid", out var uid))
        {
            e.Set("user.id", Id(uid));
            SetText(e, "user.name", UserName(record, "UID", uid));
        }
    }

    private static void Outcome(EventRecord e, AuditRecord syscall) =>
        e.Set(EventFields.Outcome, syscall.GetText("success") switch
        {
            "yes" => EventOutcomes.Success,
            "no" => EventOutcomes.Failure,
            _ => EventOutcomes.Unknown,
        });

    private static void Key(EventRecord e, AuditRecord syscall)
    {
        // Several keys on one rule are joined with 0x01 and the whole value hex-encoded.
        if (syscall.GetText("key") is { } key)
        {
            var keys = key.Split('\u0001', StringSplitOptions.RemoveEmptyEntries);
            if (keys.Length > 0)
            {
                e.Set("trainguard.audit.key", keys[0]);
                if (keys.Length > 1)
                {
                    e.Set("trainguard.audit.keys", keys);
                }
            }
        }
    }

    private string? UserName(AuditRecord record, string enrichedField, long id) =>
        KnownName(record.GetEnriched(enrichedField)) ?? (AuditValues.NormalizeId(id) == AuditRecord.UnsetId ? "unset" : _options.AccountNames?.UserName(id));

    /// <summary>Enriched names for ids without an account read <c>unknown(1500)</c>: not a name.</summary>
    private static string? KnownName(string? enriched) =>
        enriched is null || enriched.StartsWith("unknown(", StringComparison.Ordinal) ? null : enriched;

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    private static int? ArgInt32(AuditRecord syscall, int index) =>
        syscall.TryGetHex("a" + index.ToString(CultureInfo.InvariantCulture), out var value) ? unchecked((int)(uint)(value & 0xFFFFFFFF)) : null;

    private static void SetNumber(EventRecord e, string path, AuditRecord record, string field)
    {
        if (record.TryGetInt64(field, out var value))
        {
            e.Set(path, value);
        }
    }

    private static void SetText(EventRecord e, string path, string? value)
    {
        if (value is not null)
        {
            e.Set(path, value);
        }
    }

    private static string? ResolvePath(string? name, string? cwd)
    {
        if (name is null)
        {
            return null;
        }

        if (name.StartsWith('/') || cwd is null)
        {
            return name;
        }

        return cwd.EndsWith('/') ? cwd + name : cwd + "/" + name;
    }

    private static bool TryParseOctal(string text, out int value)
    {
        value = 0;
        if (text.Length is 0 or > 8)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '7')
            {
                return false;
            }

            value = (value * 8) + (c - '0');
        }

        return true;
    }
}
