namespace TrainGuard.Server.Alerts;

/// <summary>
/// The alert tables, beside the server's own in the same database (docs/server.md, "Storage"): <c>alert</c> (indexed
/// columns, the derived part as JSON, the lifecycle columns), <c>alert_host</c> and <c>alert_event</c> (what list
/// filters and the timeline join on), <c>alert_cursor</c> (the next ledger index to derive), <c>actor_event</c> (the
/// account behind each event after attribution) and <c>agent_heartbeat</c>. Times are Unix microseconds.
/// </summary>
internal static class AlertSchema
{
    /// <summary>Guards concurrent schema creation on PostgreSQL (xor'ed with the sequencer lock key).</summary>
    public const long PostgresGuard = 0x41_4c_45_52;

    /// <summary>The session lock one server holds while it derives alerts for a PostgreSQL database (xor'ed with the sequencer lock key).</summary>
    public const long PostgresDeriverLock = 0x44_45_52_49;

    public const string Sqlite = """
        CREATE TABLE IF NOT EXISTS alert (
            id TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_rank INTEGER NOT NULL,
            login_uid TEXT NULL,
            account_name TEXT NULL,
            first_seen_us INTEGER NOT NULL,
            last_seen_us INTEGER NOT NULL,
            fold_key TEXT NOT NULL,
            fold_open INTEGER NOT NULL,
            derived TEXT NOT NULL,
            status TEXT NOT NULL,
            classification TEXT NULL,
            assignee TEXT NULL,
            history TEXT NOT NULL,
            status_index INTEGER NOT NULL,
            notify_pending INTEGER NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS alert_order ON alert (last_seen_us, id);
        CREATE INDEX IF NOT EXISTS alert_fold ON alert (fold_open, fold_key);
        CREATE INDEX IF NOT EXISTS alert_login_uid ON alert (login_uid);
        CREATE INDEX IF NOT EXISTS alert_account_name ON alert (account_name);
        CREATE TABLE IF NOT EXISTS alert_host (
            alert_id TEXT NOT NULL,
            host TEXT NOT NULL,
            PRIMARY KEY (alert_id, host)
        );
        CREATE INDEX IF NOT EXISTS alert_host_host ON alert_host (host, alert_id);
        CREATE TABLE IF NOT EXISTS alert_event (
            alert_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            PRIMARY KEY (alert_id, idx)
        );
        CREATE INDEX IF NOT EXISTS alert_event_idx ON alert_event (idx);
        CREATE TABLE IF NOT EXISTS alert_cursor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            next_index INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO alert_cursor (id, next_index) VALUES (1, 0);
        CREATE TABLE IF NOT EXISTS actor_event (
            idx INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            host TEXT NULL,
            login_uid TEXT NULL,
            account_name TEXT NULL,
            attribution TEXT NOT NULL,
            logged_in_as TEXT NULL
        );
        CREATE INDEX IF NOT EXISTS actor_event_login_uid ON actor_event (login_uid, ts);
        DROP INDEX IF EXISTS actor_event_account_name;
        CREATE INDEX IF NOT EXISTS actor_event_name_uid ON actor_event (account_name, login_uid, ts);
        CREATE TABLE IF NOT EXISTS agent_heartbeat (
            host TEXT PRIMARY KEY,
            received_us INTEGER NOT NULL,
            interval_s REAL NOT NULL,
            idx INTEGER NOT NULL,
            event_id TEXT NOT NULL
        );
        """;

    public const string Postgres = """
        CREATE TABLE IF NOT EXISTS alert (
            id text PRIMARY KEY,
            rule_id text NOT NULL,
            severity text NOT NULL,
            severity_rank bigint NOT NULL,
            login_uid text NULL,
            account_name text NULL,
            first_seen_us bigint NOT NULL,
            last_seen_us bigint NOT NULL,
            fold_key text NOT NULL,
            fold_open bigint NOT NULL,
            derived text NOT NULL,
            status text NOT NULL,
            classification text NULL,
            assignee text NULL,
            history text NOT NULL,
            status_index bigint NOT NULL,
            notify_pending bigint NULL,
            created_us bigint NOT NULL,
            updated_us bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS alert_order ON alert (last_seen_us, id);
        CREATE INDEX IF NOT EXISTS alert_fold ON alert (fold_open, fold_key);
        CREATE INDEX IF NOT EXISTS alert_login_uid ON alert (login_uid);
        CREATE INDEX IF NOT EXISTS alert_account_name ON alert (account_name);
        CREATE TABLE IF NOT EXISTS alert_host (
            alert_id text NOT NULL,
            host text NOT NULL,
            PRIMARY KEY (alert_id, host)
        );
        CREATE INDEX IF NOT EXISTS alert_host_host ON alert_host (host, alert_id);
        CREATE TABLE IF NOT EXISTS alert_event (
            alert_id text NOT NULL,
            idx bigint NOT NULL,
            PRIMARY KEY (alert_id, idx)
        );
        CREATE INDEX IF NOT EXISTS alert_event_idx ON alert_event (idx);
        CREATE TABLE IF NOT EXISTS alert_cursor (
            id integer PRIMARY KEY CHECK (id = 1),
            next_index bigint NOT NULL
        );
        INSERT INTO alert_cursor (id, next_index) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS actor_event (
            idx bigint PRIMARY KEY,
            ts bigint NOT NULL,
            host text NULL,
            login_uid text NULL,
            account_name text NULL,
            attribution text NOT NULL,
            logged_in_as text NULL
        );
        CREATE INDEX IF NOT EXISTS actor_event_login_uid ON actor_event (login_uid, ts);
        DROP INDEX IF EXISTS actor_event_account_name;
        CREATE INDEX IF NOT EXISTS actor_event_name_uid ON actor_event (account_name, login_uid, ts);
        CREATE TABLE IF NOT EXISTS agent_heartbeat (
            host text PRIMARY KEY,
            received_us bigint NOT NULL,
            interval_s double precision NOT NULL,
            idx bigint NOT NULL,
            event_id text NOT NULL
        );
        """;
}
