namespace TrainGuard.Events;

/// <summary>Field paths every sensor uses (docs/events.md).</summary>
public static class EventFields
{
    public const string Id = "id";
    public const string Timestamp = "@timestamp";
    public const string Kind = "event.kind";
    public const string Category = "event.category";
    public const string Type = "event.type";
    public const string Action = "event.action";
    public const string Outcome = "event.outcome";
    public const string Module = "event.module";
    public const string Dataset = "event.dataset";
    public const string Severity = "event.severity";
    public const string Ingested = "event.ingested";
    public const string HostName = "host.name";
    public const string HostId = "host.id";
    public const string AgentId = "agent.id";
    public const string AgentVersion = "agent.version";
    public const string TrainGuardSeverity = "trainguard.severity";
    public const string TrainGuardFinding = "trainguard.finding";
}

/// <summary>Values of <c>event.kind</c>.</summary>
public static class EventKinds
{
    public const string Event = "event";
    public const string State = "state";
    public const string Alert = "alert";
}

/// <summary>Values of <c>event.outcome</c>.</summary>
public static class EventOutcomes
{
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Unknown = "unknown";
}

/// <summary>TrainGuard's <c>event.action</c> verbs (docs/events.md, table "Actions").</summary>
public static class EventActions
{
    public const string ProcessSignal = "process-signal";
    public const string LoginUidChanged = "loginuid-changed";
    public const string UserLogin = "user-login";
    public const string UserLogout = "user-logout";
    public const string SshKeyAdded = "ssh-key-added";
    public const string SshKeyRemoved = "ssh-key-removed";
    public const string UserCreated = "user-created";
    public const string UserChanged = "user-changed";
    public const string UserDeleted = "user-deleted";
    public const string FileChanged = "file-changed";
    public const string FileCreated = "file-created";
    public const string FileDeleted = "file-deleted";
    public const string FileRenamed = "file-renamed";
    public const string PersistenceChanged = "persistence-changed";
    public const string SocketListen = "socket-listen";
    public const string SocketClosed = "socket-closed";
    public const string ArtifactScanned = "artifact-scanned";
    public const string EnvFinding = "env-finding";
    public const string AccessFinding = "access-finding";
    public const string AccessWriterAdded = "access-writer-added";
    public const string AccessWriterRemoved = "access-writer-removed";
    public const string CheckpointVerified = "checkpoint-verified";
    public const string CheckpointInspected = "checkpoint-inspected";
    public const string AgentHeartbeat = "agent-heartbeat";
    public const string AuditConfigChanged = "audit-config-changed";
}
