using System.Diagnostics;
using System.Text.Json;

namespace TrainGuard.Cli.Tests;

public sealed class AccessCommandTests : IDisposable
{
    private const string Policy = """
        assets:
          - path: /opt/envs/torch/site-packages
            kind: code
            users: [mlops]
            groups: [ml-maintainers]
          - path: /data/ckpt/*
            kind: checkpoints
            users: [alice]
        """;

    private readonly string _root = Directory.CreateTempSubdirectory("tg-access-cli-").FullName;
    private readonly string _policy;

    public AccessCommandTests()
    {
        Run("chmod", "0755", _root);
        Write("etc/passwd", "root:x:0:0::/root:/bin/bash\nmlops:x:1001:1001::/:/bin/sh\nalice:x:1002:1002::/:/bin/sh\nintern7:x:1007:1007::/:/bin/sh\n");
        Write("etc/group", "root:x:0:\nml-maintainers:x:1500:mlops\nml-shared:x:2000:intern7\n");
        Write("opt/envs/torch/site-packages/torch/optim/adamw.py", "lr = 1e-3\n");
        Write("data/ckpt/llama-ft-7b/step-100.pt", "weights");
        Run("chown", "-R", "1001:1500", Host("opt/envs/torch"));
        Run("chown", "-R", "1002:1002", Host("data/ckpt/llama-ft-7b"));
        _policy = Path.Combine(_root, "access-policy.yaml");
        File.WriteAllText(_policy, Policy);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Assets_as_the_policy_allows_exit_0_and_a_group_writable_optimizer_folder_exits_1_with_its_reason()
    {
        var (clean, stdout, stderr) = await CliRunner.RunAsync("access", "check", "--policy", _policy, "--root", _root);
        Assert.True(clean == 0, stdout + stderr);
        Assert.Contains("/opt/envs/torch/site-packages (4 entries): mlops", stdout, StringComparison.Ordinal);

        Run("chown", "1001:2000", Host("opt/envs/torch/site-packages/torch/optim"));
        Run("chmod", "0775", Host("opt/envs/torch/site-packages/torch/optim"));
        var (code, json, _) = await CliRunner.RunAsync("access", "check", "--policy", _policy, "--root", _root, "-f", "json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(json);
        var finding = doc.RootElement.GetProperty("assets")[0].GetProperty("findings").EnumerateArray().Single();
        Assert.Equal("TG-ACC-001", finding.GetProperty("rule").GetString());
        Assert.Equal("intern7 via group ml-shared (g+w on /opt/envs/torch/site-packages/torch/optim)", finding.GetProperty("evidence").GetProperty("reason").GetString());
        var writers = doc.RootElement.GetProperty("access").GetProperty("writers")[0].GetProperty("accounts");
        Assert.Equal(["intern7", "mlops"], writers.EnumerateArray().Select(a => a.GetProperty("account").GetString()));
    }

    [Fact]
    public async Task A_policy_path_that_matches_nothing_exits_2_naming_it()
    {
        File.WriteAllText(_policy, Policy.Replace("/data/ckpt/*", "/data/missing/*", StringComparison.Ordinal));
        var (code, stdout, stderr) = await CliRunner.RunAsync("access", "check", "--policy", _policy, "--root", _root);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("policy asset /data/missing/* (line 6) matches nothing", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_policy_exits_2_naming_the_file_and_line()
    {
        File.WriteAllText(_policy, "assets:\n  - path: /opt\n    kind: weights\n");
        var (code, _, stderr) = await CliRunner.RunAsync("access", "check", "--policy", _policy, "--root", _root);
        Assert.Equal(2, code);
        Assert.Contains($"{_policy}:3", stderr, StringComparison.Ordinal);
        Assert.Contains("kind 'weights'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_teaches_what_counts_as_a_writer_and_the_exit_codes()
    {
        var (code, stdout, _) = await CliRunner.RunAsync("access", "check", "--help");
        Assert.Equal(0, code);
        foreach (var text in new[] { "sticky", "ACL", "sudo", "cap_dac_override", "TG-ACC-001", "--root", "0 clean, 1 findings" })
        {
            Assert.Contains(text, stdout, StringComparison.Ordinal);
        }
    }

    private string Host(string relative) => Path.Combine(_root, relative);

    private void Write(string relative, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Host(relative))!);
        File.WriteAllText(Host(relative), text);
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program}: {error}");
    }
}
