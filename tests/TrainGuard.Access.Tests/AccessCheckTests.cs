using TrainGuard.Access.Analysis;
using TrainGuard.Access.Policy;
using TrainGuard.Findings;

namespace TrainGuard.Access.Tests;

public sealed class AccessCheckTests : IDisposable
{
    private const string TorchPolicy = $"""
        assets:
          - path: {FixtureRoot.SitePackages}
            kind: code
            users: [mlops]
            groups: [ml-maintainers]
        """;

    private readonly FixtureRoot _root = new();

    public void Dispose() => _root.Dispose();

    private Report Check(string yaml) => AccessCheck.Run(AccessPolicy.Parse("policy.yaml", yaml), _root.Path);

    private AssetWriters Writers(string path) => new AccessAnalyzer(_root.Path).Analyze(path);

    private static List<Finding> Findings(Report report) => report.Items.SelectMany(i => i.Findings).ToList();

    [Fact]
    public void An_asset_exactly_as_the_policy_allows_gives_no_finding()
    {
        _root.SharedTorch();
        var report = Check(TorchPolicy);
        Assert.Empty(Findings(report));
        Assert.Equal(ExitCodes.Clean, report.ExitCode);
        var details = Assert.IsType<AccessDetails>(report.Details);
        Assert.Equal(["mlops"], details.Assets.Single().Writers.Accounts);
        Assert.Equal(8, details.Assets.Single().Writers.Entries);
    }

    [Fact]
    public void Group_write_on_a_folder_inside_the_asset_names_every_member_with_the_folder()
    {
        _root.SharedTorch();
        var optim = FixtureRoot.SitePackages + "/torch/optim";
        _root.Chown(optim, "1001:2000");
        _root.Chmod(optim, "0775");
        var report = Check(TorchPolicy);
        var findings = Findings(report);
        Assert.Equal(["carol", "intern7"], findings.Select(f => f.Evidence!["account"]).Order(StringComparer.Ordinal));
        Assert.All(findings, f => Assert.Equal(("TG-ACC-001", Severity.Critical), (f.RuleId, f.Severity)));
        Assert.Equal($"intern7 via group ml-shared (g+w on {optim})", findings.Single(f => f.Evidence!["account"] == "intern7").Evidence!["reason"]);
        Assert.Equal(ExitCodes.Findings, report.ExitCode);
    }

    [Fact]
    public void A_writable_folder_above_the_asset_lets_its_writers_replace_it()
    {
        _root.SharedTorch();
        _root.Chown("/opt/envs", "1002:1002");
        var writers = Writers(FixtureRoot.SitePackages);
        Assert.Equal(["alice (owner of /opt/envs)"], writers.Reasons("alice"));
    }

    [Fact]
    public void A_world_writable_folder_above_shared_code_is_critical_and_the_sticky_bit_limits_it_to_owners()
    {
        _root.SharedTorch();
        _root.Chmod("/opt", "0777");
        var finding = Assert.Single(Findings(Check(TorchPolicy)));
        Assert.Equal(("TG-ACC-003", Severity.Critical, "*"), (finding.RuleId, finding.Severity, finding.Evidence!["account"]));
        Assert.Equal("any account (o+w on /opt)", finding.Evidence["reason"]);

        _root.Chmod("/opt", "1777");
        Assert.Empty(Findings(Check(TorchPolicy)));
    }

    [Fact]
    public void A_symbolic_link_on_the_path_is_resolved_inside_the_root_and_its_folder_counts()
    {
        _root.Write("/opt/envs/torch-2.1/site-packages/torch/optim/adamw.py", "x = 1\n");
        _root.Mkdir("/opt/links");
        File.CreateSymbolicLink(_root.Host("/opt/links/torch"), "/opt/envs/torch-2.1");
        FixtureRoot.Run("chown", "-R", "1001:1500", _root.Host("/opt/envs/torch-2.1"));
        var writers = Writers("/opt/links/torch/site-packages");
        Assert.Equal(["mlops"], writers.Accounts);
        Assert.Equal(["mlops (owner of /opt/envs/torch-2.1) and 4 more path(s)"], writers.Reasons("mlops"));

        _root.Chown("/opt/links", "1002:1002");
        Assert.Equal(["alice (owner of /opt/links)"], Writers("/opt/links/torch/site-packages").Reasons("alice"));
    }

    [Fact]
    public void A_world_writable_checkpoint_folder_is_high()
    {
        _root.Write("/data/ckpt/llama-ft-7b/step-100.pt", "weights");
        _root.Chown("/data/ckpt/llama-ft-7b", "1002:1002");
        _root.Chmod("/data/ckpt/llama-ft-7b", "0777");
        var report = Check("assets:\n  - path: /data/ckpt/*\n    kind: checkpoints\n    users: [alice]\n");
        var finding = Assert.Single(Findings(report));
        Assert.Equal(("TG-ACC-003", Severity.High), (finding.RuleId, finding.Severity));
        Assert.Equal("/data/ckpt/llama-ft-7b", report.Items.Single().Path);
        Assert.Contains("any account (o+w on /data/ckpt/llama-ft-7b)", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_named_user_acl_entry_grants_write_unless_the_mask_removes_it()
    {
        _root.SharedTorch();
        var adamw = FixtureRoot.SitePackages + "/torch/optim/adamw.py";
        _root.Setfacl(adamw, "-m", "u:1003:rw");
        var finding = Assert.Single(Findings(Check(TorchPolicy)));
        Assert.Equal($"bob (ACL user:bob:rw- on {adamw})", finding.Evidence!["reason"]);

        _root.Setfacl(adamw, "-m", "u:4242:rw");
        Assert.Equal([$"uid 4242 (ACL user:4242:rw- on {adamw})"], Writers(FixtureRoot.SitePackages).Reasons("uid 4242"));

        _root.Setfacl(adamw, "-m", "m::r");
        Assert.Empty(Findings(Check(TorchPolicy)));
    }

    [Fact]
    public void A_named_group_acl_entry_grants_its_members_and_a_default_acl_grants_nothing()
    {
        _root.SharedTorch();
        var optim = FixtureRoot.SitePackages + "/torch/optim";
        _root.Setfacl(optim, "-d", "-m", "u:1003:rwx");
        Assert.Empty(Findings(Check(TorchPolicy)));

        _root.Setfacl(optim, "-m", "g:ml-shared:rwx".Replace("ml-shared", "2000", StringComparison.Ordinal));
        var writers = Writers(FixtureRoot.SitePackages);
        Assert.Equal([$"intern7 via group ml-shared (ACL group:ml-shared:rwx on {optim})"], writers.Reasons("intern7"));
        Assert.False(writers.Contains("bob"));
    }

    [Fact]
    public void Sudo_rules_that_run_an_editor_or_tee_as_root_or_as_the_owner_are_writers()
    {
        _root.SharedTorch();
        _root.Write("/etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\n");
        _root.Write("/etc/sudoers.d/ml", """
            # ML team
            User_Alias OPS = bob
            Cmnd_Alias EDIT = /usr/bin/nano, /usr/bin/systemctl restart slurmd
            OPS ALL = NOPASSWD: EDIT
            %ml-shared ALL=(mlops) /usr/bin/tee
            alice ALL=(root) /usr/bin/systemctl restart slurmd
            """);
        var writers = Writers(FixtureRoot.SitePackages);
        Assert.Equal(["bob via sudo (may run /usr/bin/nano as root: etc/sudoers.d/ml:4)"], writers.Reasons("bob"));
        Assert.Equal(["intern7 via group ml-shared and sudo (may run /usr/bin/tee as mlops: etc/sudoers.d/ml:5)"], writers.Reasons("intern7"));
        Assert.False(writers.Contains("alice"));
    }

    [Fact]
    public void A_sudoers_line_not_understood_is_a_finding_not_ignored()
    {
        _root.SharedTorch();
        _root.Write("/etc/sudoers", "bob ALL\nalice ALL=(ALL) ALL\n");
        var report = Check(TorchPolicy);
        var item = report.Items.Single(i => i.Path == "/etc/sudoers");
        var finding = Assert.Single(item.Findings);
        Assert.Equal("TG-ACC-010", finding.RuleId);
        Assert.StartsWith("etc/sudoers:1:", finding.Message, StringComparison.Ordinal);
        Assert.Contains(Findings(report), f => f.Evidence?["account"] == "alice");
    }

    [Theory]
    [InlineData("ALL ALL=(ALL) NOPASSWD: ALL\n", "*", "any account via sudo (may run ALL as root: etc/sudoers:1)")]
    [InlineData("#1003 ALL=(#1001) /bin/bash\n", "bob", "bob via sudo (may run /bin/bash as mlops: etc/sudoers:1)")]
    [InlineData("Runas_Alias OWNERS = mlops\nbob ALL=(OWNERS) NOPASSWD: SETENV: /usr/bin/cp\n", "bob", "bob via sudo (may run /usr/bin/cp as mlops: etc/sudoers:2)")]
    [InlineData("bob ALL=(root) \\\n    /usr/bin/vim\n", "bob", "bob via sudo (may run /usr/bin/vim as root: etc/sudoers:1)")]
    public void Sudo_rule_forms_each_give_their_account_with_the_line(string sudoers, string account, string reason)
    {
        _root.SharedTorch();
        _root.Write("/etc/sudoers", sudoers);
        Assert.Equal([reason], Writers(FixtureRoot.SitePackages).Reasons(account));
    }

    [Theory]
    [InlineData("bob host1 = /usr/bin/ls : host2 = /bin/sh\n", "several HOSTS = COMMANDS parts")]
    [InlineData("bob, &x ALL = /bin/sh\n", "user '&x' not understood")]
    [InlineData("#include /etc/sudoers.local\n#includedir /etc/other.d\n", "includedir of a folder other than /etc/sudoers.d")]
    public void Sudoers_forms_not_read_are_reported(string sudoers, string expected)
    {
        _root.SharedTorch();
        _root.Write("/etc/sudoers", sudoers);
        var finding = Findings(Check(TorchPolicy)).First(f => f.RuleId == "TG-ACC-010");
        Assert.Contains(expected, finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_group_file_and_a_malformed_passwd_line_are_reported()
    {
        _root.SharedTorch();
        File.Delete(_root.Host("/etc/group"));
        File.AppendAllText(_root.Host("/etc/passwd"), "eve:x:notanumber:1:::\n");
        var messages = Findings(Check(TorchPolicy)).Where(f => f.RuleId == "TG-ACC-010").Select(f => f.Message).ToList();
        Assert.Contains("etc/group: missing, so accounts show as uid N and groups have no known members", messages);
        Assert.Contains("etc/passwd:7: uid or gid is not a number", messages);
    }

    [Fact]
    public void An_executable_with_cap_dac_override_that_anyone_can_run_makes_anyone_a_writer()
    {
        _root.SharedTorch();
        _root.Write("/usr/bin/python3.11", "#!/bin/false\n");
        _root.Chmod("/usr/bin/python3.11", "0755");
        _root.Setcap("/usr/bin/python3.11", "cap_dac_override+ep");
        var finding = Assert.Single(Findings(Check(TorchPolicy)));
        Assert.Equal("any account via /usr/bin/python3.11 (cap_dac_override on /usr/bin/python3.11)", finding.Evidence!["reason"]);
    }

    [Fact]
    public void A_policy_path_that_matches_nothing_is_an_error_naming_it()
    {
        _root.SharedTorch();
        var ex = Assert.Throws<AccessException>(() => Check("assets:\n  - path: /srv/train/*\n    users: [mlops]\n"));
        Assert.Contains("/srv/train/*", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("assets:\n  - path: relative/path\n", "policy.yaml:2")]
    [InlineData("assets:\n  - path: /opt\n    kind: weights\n", "kind 'weights'")]
    [InlineData("assets:\n  - path: /opt\n    owner: bob\n", "unknown field 'owner'")]
    [InlineData("assets: []\n", "'assets' is empty")]
    public void A_bad_policy_is_an_error_naming_the_file_and_the_problem(string yaml, string expected)
    {
        var ex = Assert.Throws<TrainGuard.Parsing.MalformedInputException>(() => AccessPolicy.Parse("policy.yaml", yaml));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
