using TrainGuard.Agent.Config;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Config;

public sealed class AgentConfigTests
{
    [Fact]
    public void The_packaged_example_configuration_loads()
    {
        var config = AgentConfig.Load(Path.Combine(Samples.RepoRoot, "packaging", "agent.yaml"));
        Assert.Equal(new Uri("https://trainguard.example.internal:8443/"), config.ServerUrl);
        Assert.Equal("/etc/trainguard/agent.token", config.TokenFile);
        Assert.Equal("/var/log/audit/audit.log", config.AuditLog);
        Assert.Equal(TimeSpan.FromSeconds(60), config.SnapshotInterval);
        Assert.NotEmpty(config.CheckpointFolders);
    }

    [Fact]
    public void Every_setting_is_read()
    {
        var config = AgentConfig.Parse("""
            server:
              url: http://127.0.0.1:8080
              token_file: /tmp/token
              ca: /etc/trainguard/server-ca.pem
              client_cert: /etc/trainguard/node.crt
              client_key: /etc/trainguard/node.key
              batch_size: 50
              timeout_seconds: 5
              backoff_max_seconds: 30
            host_name: gpu-node-17
            spool_dir: /tmp/spool
            state_dir: /tmp/state
            snapshot_root: /mnt/image
            intervals:
              snapshot_seconds: 30
              heartbeat_seconds: 15
              checkpoints_seconds: 10
              env_seconds: 3600
              log_poll_seconds: 0.5
            audit:
              log: ~
              stdin: true
            auth_log: /var/log/secure
            checkpoints:
              folders: [/shared/runs, /scratch/ckpt]
              hash: false
              settle_seconds: 3
            env:
              sites:
                - /opt/conda/lib/python3.11/site-packages
            """);
        Assert.Equal(50, config.BatchSize);
        Assert.Equal("/etc/trainguard/server-ca.pem", config.ServerCaFile);
        Assert.Equal("/etc/trainguard/node.crt", config.ClientCertificateFile);
        Assert.Equal("/etc/trainguard/node.key", config.ClientKeyFile);
        Assert.Equal(TimeSpan.FromSeconds(30), config.BackoffMax);
        Assert.Equal("gpu-node-17", config.HostName);
        Assert.Equal("/mnt/image", config.SnapshotRoot);
        Assert.Equal(TimeSpan.FromSeconds(15), config.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.LogPollInterval);
        Assert.Null(config.AuditLog);
        Assert.True(config.AuditStdin);
        Assert.Equal("/var/log/secure", config.AuthLog);
        Assert.Equal(["/shared/runs", "/scratch/ckpt"], config.CheckpointFolders);
        Assert.False(config.CheckpointHash);
        Assert.Equal(["/opt/conda/lib/python3.11/site-packages"], config.EnvSites);
    }

    [Theory]
    [InlineData("server:\n  url: ftp://x\n", "agent.yaml:2:8: 'server.url' must be an http:// or https:// URL")]
    [InlineData("intervals:\n  snapshot_seconds: soon\n", "agent.yaml:2:21: 'intervals.snapshot_seconds' must be a number of seconds")]
    [InlineData("checkpoints:\n  folder: [/x]\n", "agent.yaml:2:11: unknown key 'folder' (expected one of: folders, hash, settle_seconds)")]
    [InlineData("spool_dir: /a\nspol_dir: /b\n", "agent.yaml:2:11: unknown key 'spol_dir'")]
    [InlineData("server: [1, 2]\n", "agent.yaml:1:9: 'server' must be a mapping")]
    [InlineData("server:\n  url: \"http://x\n", "agent.yaml:2:")]
    [InlineData("server:\n  batch_size: 0\n", "'server.batch_size' must be a whole number from 1 to 10000")]
    [InlineData("audit:\n  stdin: yes please\n", "'audit.stdin' must be true or false")]
    public void Errors_name_the_file_line_and_column(string yaml, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => AgentConfig.Parse(yaml));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Config, ex.Kind);
        Assert.Equal("agent.yaml", ex.Origin);
    }

    [Fact]
    public void The_journal_can_replace_auth_log_as_sshds_source()
    {
        var config = AgentConfig.Parse("auth_journal: true\nauth_journal_command: /usr/local/bin/journalctl\n");
        Assert.True(config.AuthJournal);
        Assert.Equal("/usr/local/bin/journalctl", config.JournalCommand);
        Assert.False(AgentConfig.Parse(string.Empty).AuthJournal);
    }

    [Fact]
    public void An_empty_file_means_defaults()
    {
        var config = AgentConfig.Parse(string.Empty);
        Assert.Null(config.ServerUrl);
        Assert.Equal("/var/lib/trainguard/spool", config.SpoolDirectory);
    }

    [Fact]
    public void A_missing_or_empty_token_file_is_a_clear_error()
    {
        using var dir = new TempDir();
        var missing = new AgentConfig { TokenFile = dir.Combine("nope") };
        Assert.Contains("cannot read the token file", Assert.Throws<MalformedInputException>(() => missing.ReadToken()).Message, StringComparison.Ordinal);
        var empty = new AgentConfig { TokenFile = dir.Write("token", "\n") };
        Assert.Contains("token file is empty", Assert.Throws<MalformedInputException>(() => empty.ReadToken()).Message, StringComparison.Ordinal);
        var good = new AgentConfig { TokenFile = dir.Write("token2", "abc123\n") };
        Assert.Equal("abc123", good.ReadToken());
    }

    [Theory]
    [InlineData("agent.yaml", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite, "writable by other users (mode 0602)")]
    [InlineData("agent.yaml", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite, "writable by other users (mode 0620)")]
    public void A_configuration_file_other_users_can_write_is_refused(string name, UnixFileMode mode, string expected)
    {
        using var dir = new TempDir();
        var path = dir.Write(name, "host_name: n1\n");
        TempDir.Chmod(path, mode);
        var ex = Assert.Throws<MalformedInputException>(() => AgentConfig.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://10.0.0.5:8470")]
    [InlineData("http://tg.example.org")]
    [InlineData("http://[2001:db8::5]:8470/")]
    public void Plain_http_to_a_remote_server_is_refused(string url)
    {
        var ex = Assert.Throws<MalformedInputException>(() => AgentConfig.Parse($"server:\n  url: {url}\n"));

        Assert.Contains("agent.yaml:2:8: 'server.url': '" + new Uri(url), ex.Message, StringComparison.Ordinal);
        Assert.Contains("is plain http to another machine", ex.Message, StringComparison.Ordinal);
        Assert.Contains("use https://", ex.Message, StringComparison.Ordinal);
        Assert.Contains("server.ca", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8470")]
    [InlineData("http://localhost:8470")]
    [InlineData("http://[::1]:8470")]
    [InlineData("https://tg.example.org:8443")]
    public void Plain_http_to_this_machine_and_https_anywhere_are_accepted(string url)
    {
        Assert.Equal(new Uri(url), AgentConfig.Parse($"server:\n  url: {url}\n").ServerUrl);
    }

    [Fact]
    public void Without_TLS_settings_no_TLS_is_loaded()
    {
        Assert.Null(new AgentConfig().LoadTls());
    }

    [Fact]
    public void A_server_ca_file_other_users_can_write_is_refused()
    {
        using var dir = new TempDir();
        var ca = dir.Write("server-ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        TempDir.Chmod(ca, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite);
        var config = new AgentConfig { ServerCaFile = ca };

        Assert.Contains("server.ca file is writable by other users", Assert.Throws<MalformedInputException>(() => config.LoadTls()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_certificate_without_its_key_is_refused()
    {
        var config = new AgentConfig { ClientCertificateFile = "/etc/trainguard/node.crt" };

        Assert.Contains("server.client_cert is given without server.client_key", Assert.Throws<MalformedInputException>(() => config.LoadTls()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_file_other_users_can_write_or_own_is_refused()
    {
        using var dir = new TempDir();
        var token = dir.Write("token", "abc123\n");
        TempDir.Chmod(token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        var config = new AgentConfig { TokenFile = token };
        Assert.Contains("token file is writable by other users", Assert.Throws<MalformedInputException>(() => config.ReadToken()).Message, StringComparison.Ordinal);

        TempDir.Chmod(token, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("abc123", config.ReadToken());
        if (TrainGuard.Agent.Common.UnixFile.EffectiveUid == 0)
        {
            // Owned by an ordinary account, who could chmod it at any time.
            using var chown = System.Diagnostics.Process.Start("chown", ["1500", token])!;
            chown.WaitForExit();
            Assert.Contains("owned by uid 1500", Assert.Throws<MalformedInputException>(() => config.ReadToken()).Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_configuration_in_a_folder_anyone_can_write_is_refused_unless_the_folder_is_sticky()
    {
        using var dir = new TempDir();
        var path = dir.Write("shared/agent.yaml", "host_name: n1\n");
        var all = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        TempDir.Chmod(dir.Combine("shared"), all);
        Assert.Contains("without the sticky bit", Assert.Throws<MalformedInputException>(() => AgentConfig.Load(path)).Message, StringComparison.Ordinal);
        TempDir.Chmod(dir.Combine("shared"), all | UnixFileMode.StickyBit);
        Assert.Equal("n1", AgentConfig.Load(path).HostName);
    }

    [Fact]
    public async Task A_real_agent_refuses_to_start_with_a_world_writable_configuration()
    {
        using var dir = new TempDir();
        var path = dir.Write("agent.yaml", $"spool_dir: {dir.Combine("spool")}\nstate_dir: {dir.Combine("state")}\naudit:\n  log: ~\nauth_log: ~\n");
        TempDir.Chmod(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(ChildProgram).Assembly.Location);
        info.ArgumentList.Add("agent-run");
        info.ArgumentList.Add(path);
        using var child = System.Diagnostics.Process.Start(info)!;
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await child.WaitForExitAsync(timeout.Token);
        Assert.Equal(2, child.ExitCode);
        Assert.Contains("configuration file is writable by other users", await stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", await stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Combine("spool")), "nothing ran");
    }
}
