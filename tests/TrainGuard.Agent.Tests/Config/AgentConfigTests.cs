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
}
