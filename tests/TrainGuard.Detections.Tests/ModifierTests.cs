using TrainGuard.Detections.Tests.Support;

namespace TrainGuard.Detections.Tests;

/// <summary>Every value modifier TrainGuard supports, each against events it must and must not match.</summary>
public sealed class ModifierTests
{
    [Theory]
    // Plain values: case-insensitive, whole value.
    [InlineData("{user.name: Alice}", """{"user":{"name":"alice"}}""", true)]
    [InlineData("{user.name: Alice}", """{"user":{"name":"alice2"}}""", false)]
    [InlineData("{user.name|cased: Alice}", """{"user":{"name":"alice"}}""", false)]
    [InlineData("{user.name|cased: Alice}", """{"user":{"name":"Alice"}}""", true)]
    // contains / startswith / endswith, case-insensitive unless cased.
    [InlineData("{process.command_line|contains: SLEEP}", """{"process":{"command_line":"python -c 'time.sleep(9)'"}}""", true)]
    [InlineData("{process.command_line|contains: wake}", """{"process":{"command_line":"python -c 'time.sleep(9)'"}}""", false)]
    [InlineData("{process.command_line|contains|cased: SLEEP}", """{"process":{"command_line":"time.sleep"}}""", false)]
    [InlineData("{file.path|startswith: /etc/cron}", """{"file":{"path":"/ETC/CRON.d/job"}}""", true)]
    [InlineData("{file.path|startswith: /etc/cron}", """{"file":{"path":"/var/etc/cron"}}""", false)]
    [InlineData("{file.path|startswith|cased: /etc/cron}", """{"file":{"path":"/ETC/CRON.d/job"}}""", false)]
    [InlineData("{file.path|endswith: /.ssh/authorized_keys}", """{"file":{"path":"/home/bob/.ssh/authorized_keys"}}""", true)]
    [InlineData("{file.path|endswith: /.ssh/authorized_keys}", """{"file":{"path":"/home/bob/.ssh/authorized_keys.bak"}}""", false)]
    [InlineData("{file.path|endswith|cased: /Keys}", """{"file":{"path":"/a/keys"}}""", false)]
    // Lists OR their values; a contains list is one multi-string search.
    [InlineData("{process.name: [kill, pkill, killall]}", """{"process":{"name":"pkill"}}""", true)]
    [InlineData("{process.name: [kill, pkill, killall, skill, snice, tkill]}", """{"process":{"name":"SNICE"}}""", true)]
    [InlineData("{process.name: [kill, pkill, killall, skill, snice, tkill]}", """{"process":{"name":"bash"}}""", false)]
    [InlineData("{process.command_line|contains: [curl, wget, nc -l]}", """{"process":{"command_line":"bash -c 'NC -L 4444'"}}""", true)]
    [InlineData("{process.command_line|contains: [curl, wget]}", """{"process":{"command_line":"python train.py"}}""", false)]
    // all: every value must be found.
    [InlineData("{process.args|all: [-D, -k]}", """{"process":{"args":["auditctl","-k","x","-D"]}}""", true)]
    [InlineData("{process.args|all: [-D, -k]}", """{"process":{"args":["auditctl","-D"]}}""", false)]
    [InlineData("{process.command_line|contains|all: [torch, maximize]}", """{"process":{"command_line":"sed -i s/maximize=False/maximize=True/ torch/optim/adamw.py"}}""", true)]
    [InlineData("{process.command_line|contains|all: [torch, maximize]}", """{"process":{"command_line":"vim torch/optim/adamw.py"}}""", false)]
    // exists: presence, whatever the value (null included).
    [InlineData("{trainguard.target.pid|exists: true}", """{"trainguard":{"target":{"pid":4242}}}""", true)]
    [InlineData("{trainguard.target.pid|exists: true}", """{"trainguard":{"target":{"pid":null}}}""", true)]
    [InlineData("{trainguard.target.pid|exists: true}", """{"trainguard":{"target":{}}}""", false)]
    [InlineData("{trainguard.target.pid|exists: false}", """{"trainguard":{"target":{}}}""", true)]
    [InlineData("{trainguard.target|exists: true}", """{"trainguard":{"target":{"pid":1}}}""", true)]
    // neq: present and different from every value.
    [InlineData("{trainguard.loginuid.old.id|neq: '4294967295'}", """{"trainguard":{"loginuid":{"old":{"id":"1600"}}}}""", true)]
    [InlineData("{trainguard.loginuid.old.id|neq: '4294967295'}", """{"trainguard":{"loginuid":{"old":{"id":"4294967295"}}}}""", false)]
    [InlineData("{trainguard.loginuid.old.id|neq: '4294967295'}", """{"trainguard":{"loginuid":{}}}""", false)]
    [InlineData("{process.name|neq: [sshd, login]}", """{"process":{"name":"LOGIN"}}""", false)]
    [InlineData("{process.name|contains|neq: ssh}", """{"process":{"name":"bash"}}""", true)]
    // re: case-sensitive by default, i m s sub-modifiers, linear-time matching.
    [InlineData("{file.path|re: '^/proc/[0-9]+/loginuid$'}", """{"file":{"path":"/proc/4242/loginuid"}}""", true)]
    [InlineData("{file.path|re: '^/proc/[0-9]+/loginuid$'}", """{"file":{"path":"/proc/self/loginuid"}}""", false)]
    [InlineData("{file.path|re: '/(site|dist)-packages/'}", """{"file":{"path":"/usr/lib/python3/DIST-packages/torch/x.py"}}""", false)]
    [InlineData("{file.path|re|i: '/(site|dist)-packages/'}", """{"file":{"path":"/usr/lib/python3/DIST-packages/torch/x.py"}}""", true)]
    [InlineData("{event.original|re|m: '^evil$'}", """{"event":{"original":"first\nevil\nlast"}}""", true)]
    [InlineData("{event.original|re: '^evil$'}", """{"event":{"original":"first\nevil\nlast"}}""", false)]
    [InlineData("{event.original|re|s: 'a.b'}", """{"event":{"original":"a\nb"}}""", true)]
    [InlineData("{event.original|re: 'a.b'}", """{"event":{"original":"a\nb"}}""", false)]
    [InlineData("{event.original|re|neq: 'ok'}", """{"event":{"original":"fine"}}""", true)]
    // cidr: IPv4, IPv6, IPv4-mapped IPv6.
    [InlineData("{source.ip|cidr: 10.0.0.0/8}", """{"source":{"ip":"10.20.30.40"}}""", true)]
    [InlineData("{source.ip|cidr: 10.0.0.0/8}", """{"source":{"ip":"11.0.0.1"}}""", false)]
    [InlineData("{source.ip|cidr: [127.0.0.0/8, '::1/128']}", """{"source":{"ip":"::1"}}""", true)]
    [InlineData("{source.ip|cidr: 'fd00::/8'}", """{"source":{"ip":"fd12:3456::1"}}""", true)]
    [InlineData("{source.ip|cidr: 'fd00::/8'}", """{"source":{"ip":"fe80::1"}}""", false)]
    [InlineData("{source.ip|cidr: 192.168.1.0/25}", """{"source":{"ip":"::ffff:192.168.1.7"}}""", true)]
    [InlineData("{source.ip|cidr: 192.168.1.0/25}", """{"source":{"ip":"192.168.1.200"}}""", false)]
    [InlineData("{source.ip|cidr: 10.0.0.0/8}", """{"source":{"ip":"not an address"}}""", false)]
    [InlineData("{source.ip|cidr|neq: 10.0.0.0/8}", """{"source":{"ip":"8.8.8.8"}}""", true)]
    // lt / lte / gt / gte: numbers, and strings that read as numbers.
    [InlineData("{trainguard.signal.number|lt: 10}", """{"trainguard":{"signal":{"number":9}}}""", true)]
    [InlineData("{trainguard.signal.number|lt: 9}", """{"trainguard":{"signal":{"number":9}}}""", false)]
    [InlineData("{trainguard.signal.number|lte: 9}", """{"trainguard":{"signal":{"number":9}}}""", true)]
    [InlineData("{trainguard.signal.number|gt: 9}", """{"trainguard":{"signal":{"number":9}}}""", false)]
    [InlineData("{trainguard.signal.number|gte: 9}", """{"trainguard":{"signal":{"number":9}}}""", true)]
    [InlineData("{user.audit.id|lt: 1000}", """{"user":{"audit":{"id":"0"}}}""", true)]
    [InlineData("{user.audit.id|lt: 1000}", """{"user":{"audit":{"id":"1600"}}}""", false)]
    [InlineData("{user.audit.id|gte: 1000}", """{"user":{"audit":{"id":"root"}}}""", false)]
    [InlineData("{file.size|gt: 1.5}", """{"file":{"size":2}}""", true)]
    // fieldref: two fields of one event; with neq both present and different.
    [InlineData("{user.audit.id|fieldref: trainguard.target.user.audit.id}", """{"user":{"audit":{"id":"1600"}},"trainguard":{"target":{"user":{"audit":{"id":"1600"}}}}}""", true)]
    [InlineData("{user.audit.id|fieldref: trainguard.target.user.audit.id}", """{"user":{"audit":{"id":"1600"}},"trainguard":{"target":{"user":{"audit":{"id":"1001"}}}}}""", false)]
    [InlineData("{user.audit.id|fieldref|neq: trainguard.target.user.audit.id}", """{"user":{"audit":{"id":"1600"}},"trainguard":{"target":{"user":{"audit":{"id":"1001"}}}}}""", true)]
    [InlineData("{user.audit.id|fieldref|neq: trainguard.target.user.audit.id}", """{"user":{"audit":{"id":"1600"}},"trainguard":{"target":{"user":{"audit":{"id":"1600"}}}}}""", false)]
    [InlineData("{user.audit.id|fieldref|neq: trainguard.target.user.audit.id}", """{"user":{"audit":{"id":"1600"}}}""", false)]
    [InlineData("{user.id|fieldref: file.uid}", """{"user":{"id":"1000"},"file":{"uid":1000}}""", true)]
    [InlineData("{file.path|fieldref|startswith: trainguard.account.home}", """{"file":{"path":"/home/bob/.ssh/authorized_keys"},"trainguard":{"account":{"home":"/home/bob"}}}""", true)]
    [InlineData("{file.path|fieldref|startswith: trainguard.account.home}", """{"file":{"path":"/home/alice/.ssh/authorized_keys"},"trainguard":{"account":{"home":"/home/bob"}}}""", false)]
    // expand: %placeholders% from the configuration (default values shown here).
    [InlineData("{process.executable|expand: '%PackageManagers%'}", """{"process":{"executable":"/usr/bin/dpkg"}}""", true)]
    [InlineData("{process.executable|expand: '%PackageManagers%'}", """{"process":{"executable":"/opt/conda/envs/train/bin/pip3.11"}}""", true)]
    [InlineData("{process.executable|expand: '%PackageManagers%'}", """{"process":{"executable":"/usr/bin/vim"}}""", false)]
    [InlineData("{process.executable|expand: '%SchedulerBinaries%'}", """{"process":{"executable":"/usr/sbin/slurmstepd"}}""", true)]
    [InlineData("{process.executable|expand: '%ServiceBinaries%'}", """{"process":{"executable":"/usr/sbin/sshd"}}""", true)]
    [InlineData("{process.executable|expand|neq: '%ServiceBinaries%'}", """{"process":{"executable":"/tmp/x/nc"}}""", true)]
    // base64 / base64offset: the value as it appears inside base64 text (compared exactly).
    [InlineData("{process.command_line|base64|contains: 'import os'}", """{"process":{"command_line":"python -c exec(b64decode('aW1wb3J0IG9z'))"}}""", true)]
    [InlineData("{process.command_line|base64|contains: 'import os'}", """{"process":{"command_line":"python -c exec(b64decode('AW1WB3J0IG9Z'))"}}""", false)]
    [InlineData("{process.command_line|base64offset|contains: 'os.system'}", """{"process":{"command_line":"echo aW1wb3J0IG9zO29zLnN5c3RlbSgnaWQnKQ== | base64 -d | python"}}""", true)]
    [InlineData("{process.command_line|base64offset|contains: 'os.system'}", """{"process":{"command_line":"echo eCA9IDE7IG9zLnN5c3RlbQ== | base64 -d"}}""", true)]
    [InlineData("{process.command_line|base64offset|contains: 'os.system'}", """{"process":{"command_line":"echo b3Muc3lzdGVt | base64 -d"}}""", true)]
    [InlineData("{process.command_line|base64offset|contains: 'os.system'}", """{"process":{"command_line":"echo aW1wb3J0IHRvcmNo | base64 -d"}}""", false)]
    public void Modifier_matches_what_it_must_and_nothing_else(string detection, string eventJson, bool expected)
    {
        var set = SigmaTest.Detection($$"""{sel: {{detection}}, condition: sel}""");
        Assert.Equal(expected, SigmaTest.Fires(set, eventJson));
    }

    [Theory]
    // * and ? wildcards; \* \? \\ escapes as the specification defines them.
    [InlineData(@"'/home/*/.ssh/authorized_keys'", "/home/bob/.ssh/authorized_keys", true)]
    [InlineData(@"'/home/*/.ssh/authorized_keys'", "/root/.ssh/authorized_keys", false)]
    [InlineData(@"'/etc/cron.?/job'", "/etc/cron.d/job", true)]
    [InlineData(@"'/etc/cron.?/job'", "/etc/cron.dd/job", false)]
    [InlineData(@"'*.pth'", "/usr/lib/python3/site-packages/evil.pth", true)]
    [InlineData(@"'a\*b'", "a*b", true)]
    [InlineData(@"'a\*b'", "axxb", false)]
    [InlineData(@"'a\?b'", "axb", false)]
    [InlineData(@"'a\?b'", "a?b", true)]
    [InlineData(@"'C:\Windows\*'", @"C:\Windows*", true)]
    [InlineData(@"'C:\Windows\*'", @"C:\Windows\system32", false)]
    [InlineData(@"'C:\Windows\\*'", @"C:\Windows\system32", true)]
    [InlineData(@"'C:\Windows\\\*'", @"C:\Windows\system32", false)]
    [InlineData(@"'C:\Windows\\\*'", @"C:\Windows\*", true)]
    [InlineData(@"'a\\\\b'", @"a\\b", true)]
    [InlineData(@"'a\b'", @"a\b", true)]
    [InlineData(@"'*'", "", true)]
    [InlineData(@"''", "", true)]
    [InlineData(@"''", "x", false)]
    [InlineData(@"'ab*cd*ef'", "ABxxCDyyEF", true)]
    [InlineData(@"'ab*cd*ef'", "abefcd", false)]
    [InlineData(@"'a?c*'", "abcdef", true)]
    public void Wildcards_and_escapes_follow_the_specification(string value, string text, bool expected)
    {
        var set = SigmaTest.Detection("{sel: {file.path: " + value + "}, condition: sel}");
        Assert.Equal(expected, SigmaTest.Fires(set, "{\"file\":{\"path\":" + System.Text.Json.JsonSerializer.Serialize(text) + "}}"));
    }

    [Theory]
    [InlineData("{process.pid: 4242}", """{"process":{"pid":4242}}""", true)]
    [InlineData("{process.pid: 4242}", """{"process":{"pid":4242.0}}""", true)]
    [InlineData("{process.pid: '4242'}", """{"process":{"pid":4242}}""", true)]
    [InlineData("{user.id: 0}", """{"user":{"id":"0"}}""", true)]
    [InlineData("{user.id: 0}", """{"user":{"id":"00"}}""", false)]
    [InlineData("{trainguard.cross_user: true}", """{"trainguard":{"cross_user":true}}""", true)]
    [InlineData("{trainguard.cross_user: true}", """{"trainguard":{"cross_user":false}}""", false)]
    [InlineData("{trainguard.cross_user: true}", """{"trainguard":{"cross_user":"true"}}""", true)]
    [InlineData("{trainguard.ssh.key_line: null}", """{"trainguard":{"ssh":{}}}""", true)]
    [InlineData("{trainguard.ssh.key_line: null}", """{"trainguard":{"ssh":{"key_line":null}}}""", true)]
    [InlineData("{trainguard.ssh.key_line: null}", """{"trainguard":{"ssh":{"key_line":3}}}""", false)]
    public void Numbers_booleans_and_null_compare_as_sigma_says(string detection, string eventJson, bool expected)
    {
        var set = SigmaTest.Detection($$"""{sel: {{detection}}, condition: sel}""");
        Assert.Equal(expected, SigmaTest.Fires(set, eventJson));
    }

    [Fact]
    public void Placeholders_come_from_the_configuration_passed_in()
    {
        var options = new DetectionOptions
        {
            Placeholders = new Dictionary<string, IReadOnlyList<string>> { ["Trainers"] = ["/opt/train/bin/*", "*/torchrun"] },
        };
        var set = SigmaTest.Detection("{sel: {process.executable|expand: '%Trainers%'}, condition: sel}", options);
        Assert.True(SigmaTest.Fires(set, """{"process":{"executable":"/usr/local/bin/torchrun"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"process":{"executable":"/usr/bin/python3"}}"""));

        // The same rule against the defaults: the placeholder is unknown there.
        var ex = SigmaTest.DetectionError("{sel: {process.executable|expand: '%Trainers%'}, condition: sel}");
        Assert.Contains("unknown placeholder '%Trainers%'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_combines_placeholders_with_text_and_keeps_escaped_percent_signs()
    {
        var options = new DetectionOptions
        {
            Placeholders = new Dictionary<string, IReadOnlyList<string>> { ["Homes"] = ["/home/*", "/root"] },
        };
        var set = SigmaTest.Detection(@"{sel: {file.path|expand: '%Homes%/.ssh/\%keys'}, condition: sel}", options);
        Assert.True(SigmaTest.Fires(set, """{"file":{"path":"/home/bob/.ssh/%keys"}}"""));
        Assert.True(SigmaTest.Fires(set, """{"file":{"path":"/root/.ssh/%keys"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"file":{"path":"/srv/.ssh/%keys"}}"""));
    }

    [Fact]
    public void A_plain_value_with_percent_signs_is_literal_without_expand()
    {
        var set = SigmaTest.Detection("{sel: {process.command_line: '%PackageManagers%'}, condition: sel}");
        Assert.True(SigmaTest.Fires(set, """{"process":{"command_line":"%packagemanagers%"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"process":{"command_line":"/usr/bin/dpkg"}}"""));
    }

    [Fact]
    public void A_regular_expression_has_a_match_time_limit_and_is_linear_time()
    {
        // A pattern that takes exponential time under backtracking matches in linear time here.
        var set = SigmaTest.Detection("{sel: {event.original|re: '^(a+)+$'}, condition: sel}");
        var hostile = new string('a', 50_000) + "!";
        var engine = set.CreateEngine();
        var hits = SigmaTest.Run(engine, "{\"event\":{\"original\":\"" + hostile + "\"}}", """{"event":{"original":"aaaa"}}""");
        Assert.Equal([1L], hits.Select(h => h.EventRef));
        Assert.Equal(0, engine.Stats.RegexTimeouts);
    }

    [Fact]
    public void A_regular_expression_that_runs_out_of_its_configured_time_counts_as_no_match_and_is_counted()
    {
        // A wall-clock bound (off by default, so a replay on a busy machine equals the live run): one tick is too
        // short for any test over a megabyte of text; the test does not match and the timeout is counted.
        var options = new DetectionOptions { RegexTimeout = TimeSpan.FromTicks(1) };
        var set = SigmaTest.Detection("{sel: {event.original|re: 'a[ab]*c'}, condition: sel}", options);
        var engine = set.CreateEngine();
        var text = new string('a', 1 << 20) + "c";
        Assert.Empty(SigmaTest.Run(engine, "{\"event\":{\"original\":\"" + text + "\"}}"));
        Assert.Equal(1, engine.Stats.RegexTimeouts);

        // The same rule without the bound matches.
        Assert.Single(SigmaTest.Run(SigmaTest.Detection("{sel: {event.original|re: 'a[ab]*c'}, condition: sel}").CreateEngine(), "{\"event\":{\"original\":\"" + text + "\"}}"));
    }
}
