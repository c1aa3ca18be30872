using TrainGuard.Detections.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Detections.Tests;

/// <summary>Loading fails closed: whatever TrainGuard cannot evaluate as written refuses the rule with its file and line.</summary>
public sealed class LoadErrorTests
{
    private const string Rule = """
        title: Kill of another user's process
        id: TG-DET-001
        taxonomy: ecs
        logsource: {product: linux, service: auditd}
        level: high
        description: d
        x-trainguard: {guidance: g}
        detection:
          sel:
            event.action: process-signal
            {0}
          condition: sel
        """;

    [Theory]
    [InlineData("process.executable|endswitch: /kill", "unknown modifier 'endswitch'")]
    [InlineData("process.executable|windash: -k", "modifier 'windash' is not supported")]
    [InlineData("process.executable|utf16le: x", "modifier 'utf16le' is not supported")]
    [InlineData("process.executable|contains|contains: x", "modifier 'contains' is given twice")]
    [InlineData("process.executable|contains|startswith: x", "'startswith' cannot be combined with 'contains'")]
    [InlineData("process.executable|re|cidr: x", "'cidr' cannot be combined with 're'")]
    [InlineData("process.executable|i: x", "modifier 'i' only follows 're'")]
    [InlineData("process.executable|contains|base64: x", "'base64' must come before 'contains'")]
    [InlineData("process.executable|base64offset: xyz", "'base64offset' needs 'contains'")]
    [InlineData("process.pid|lt|neq: 3", "'neq' cannot be combined with 'lt'")]
    [InlineData("process.pid|lt|cased: 3", "'cased' has no meaning with 'lt'")]
    [InlineData("process.name|all|neq: [a, b]", "'neq' cannot be combined with 'all'")]
    [InlineData("process.executable|re|expand: '%PackageManagers%'", "'expand' cannot be combined with 're'")]
    [InlineData("process.exectuable: /usr/bin/kill", "unknown field 'process.exectuable'")]
    [InlineData("Image|endswith: '\\kill.exe'", "unknown field 'Image'")]
    [InlineData("process: x", "'process' is an object holding other fields")]
    [InlineData("user.audit.id|fieldref: trainguard.target.user.audit.idd", "unknown field 'trainguard.target.user.audit.idd'")]
    [InlineData("process.executable|expand: '%PackageManagerz%'", "unknown placeholder '%PackageManagerz%'")]
    [InlineData("process.executable|expand: '%Package Managers%'", "a placeholder is %Name%")]
    [InlineData("process.executable|expand: '/usr/bin/kill'", "uses 'expand' but holds no %placeholder%")]
    [InlineData("file.path|re: '^/proc/\\d+/loginuid$'", "'\\d' is outside Sigma's regex flavour: write [0-9]")]
    [InlineData("file.path|re: '(?i)x'", "'(?' groups")]
    [InlineData("file.path|re: '(unclosed'", "is not valid")]
    [InlineData("source.ip|cidr: 10.0.0.1/8", "has host bits set")]
    [InlineData("source.ip|cidr: 10.0.0.0", "is not a CIDR range")]
    [InlineData("source.ip|cidr: '10.0.0.0/33'", "prefix length is longer than the address")]
    [InlineData("process.pid|gt: many", "is not a number")]
    [InlineData("process.pid|exists: maybe", "'exists' takes true or false")]
    [InlineData("process.name|all: [kill]", "'all' needs a list of at least two values")]
    [InlineData("process.name: [kill, null]", "null cannot be part of a list")]
    [InlineData("process.name|contains: null", "null takes no modifiers")]
    [InlineData("process.name: []", "has an empty list of values")]
    [InlineData("process.name: {a: b}", "must have a value or a list of values")]
    [InlineData("process.command_line|base64: 'a*b'", "a base64 value cannot hold wildcards")]
    [InlineData("process.command_line|base64offset|contains: 'a'", "too short for base64offset")]
    public void A_field_item_TrainGuard_cannot_evaluate_refuses_the_rule_with_file_and_line(string item, string expected)
    {
        var ex = SigmaTest.LoadError(Rule.Replace("{0}", item, StringComparison.Ordinal));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yml:11:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_modifier_names_the_file_line_and_column()
    {
        var ex = SigmaTest.LoadError(Rule.Replace("{0}", "process.executable|endswitch: /kill", StringComparison.Ordinal));
        Assert.StartsWith("bad.yml:11:5: 'process.executable|endswitch': unknown modifier 'endswitch'", ex.Message, StringComparison.Ordinal);
        Assert.Equal((InputErrorKind.Config, "bad.yml", 11, 5), (ex.Kind, ex.Origin, ex.Line, ex.Column));
    }

    [Fact]
    public void A_site_adds_fields_to_the_vocabulary_in_its_configuration()
    {
        var yaml = Rule.Replace("{0}", "site.queue.name: gpu-long", StringComparison.Ordinal);
        Assert.Contains("unknown field 'site.queue.name'", SigmaTest.LoadError(yaml).Message, StringComparison.Ordinal);

        var set = SigmaTest.Load(yaml, new DetectionOptions { ExtraFields = ["site.queue.name"] });
        Assert.True(SigmaTest.Fires(set, """{"event":{"action":"process-signal"},"site":{"queue":{"name":"GPU-LONG"}}}"""));

        var open = SigmaTest.Load(yaml, new DetectionOptions { ExtraFields = ["site.*"] });
        Assert.True(SigmaTest.Fires(open, """{"event":{"action":"process-signal"},"site.queue.name":"gpu-long"}"""));
    }

    [Theory]
    [InlineData("sel: {event.action: x}\ncondition: sel and filter", "names 'filter'")]
    [InlineData("sel: {event.action: x}\ncondition: 1 of filter_*", "matches no search identifier")]
    [InlineData("sel: {event.action: x}\ncondition: sel and", "ends where")]
    [InlineData("sel: {event.action: x}\ncondition: (sel", "is not closed")]
    [InlineData("sel: {event.action: x}\ncondition: sel)", "unexpected ')'")]
    [InlineData("sel: {event.action: x}\ncondition: sel | count() by host.name > 3", "Sigma 1 aggregations")]
    [InlineData("sel: {event.action: x}\ncondition: 2 of sel", "only '1 of' and 'all of' exist")]
    [InlineData("sel: {event.action: x}\ncondition: any of sel", "write '1 of'")]
    [InlineData("sel: {event.action: x}\ncondition: sel*", "needs '1 of' or 'all of'")]
    [InlineData("sel: {event.action: x}\ncondition: SEL", "names 'SEL'")]
    [InlineData("sel: {event.action: x}\ncondition: sel AND sel", "unexpected 'AND'")]
    [InlineData("sel: {event.action: x}\ncondition: ''", "the condition is empty")]
    [InlineData("sel: {event.action: x}", "needs a 'condition'")]
    [InlineData("condition: sel", "has no search identifier")]
    [InlineData("sel: {event.action: x}\ntimeframe: 5m\ncondition: sel", "'timeframe' (Sigma 1) is not supported")]
    [InlineData("sel: {}\ncondition: sel", "an empty map matches every event")]
    [InlineData("sel: []\ncondition: sel", "is an empty list")]
    [InlineData("sel: [a, {event.action: x}]\ncondition: sel", "mixes keywords and field maps")]
    [InlineData("not: {event.action: x}\ncondition: sel", "cannot name a search identifier")]
    [InlineData("sel: {'|all': [a]}\ncondition: sel", "'all' needs a list of at least two keywords")]
    [InlineData("sel: {'|contains': [a, b]}\ncondition: sel", "keyword modifiers are 'all' and 'cased'")]
    public void A_detection_that_does_not_say_what_it_means_is_refused(string detection, string expected)
    {
        var ex = SigmaTest.DetectionError(detection);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("test.yml:", ex.Message, StringComparison.Ordinal);
    }

    private const string Header = "title: t\ntaxonomy: ecs\nlogsource: {product: linux}\n";

    [Theory]
    [InlineData("title: t\nlogsource: {product: linux}\ndetection: {sel: {event.action: x}, condition: sel}\n", "add 'taxonomy: ecs'")]
    [InlineData("title: t\ntaxonomy: sigma\nlogsource: {product: linux}\ndetection: {sel: {Image: x}, condition: sel}\n", "taxonomy 'sigma' is not supported")]
    [InlineData("title: t\ntaxonomy: ecs\ndetection: {sel: {event.action: x}, condition: sel}\n", "needs a 'logsource'")]
    [InlineData(Header + "logsourcee: {}\n", "needs a 'detection', 'correlation' or 'filter' section")]
    [InlineData(Header + "detection: {sel: {event.action: x}, condition: sel}\nfilter: {rules: [a], sel: {event.action: x}, condition: not sel}\n", "not detection and filter")]
    [InlineData(Header + "action: global\ndetection: {sel: {event.action: x}, condition: sel}\n", "'action' documents (Sigma 1 rule collections)")]
    [InlineData(Header + "id: rule-1\ndetection: {sel: {event.action: x}, condition: sel}\n", "id 'rule-1' must look like TG-DET-001 or be a UUID")]
    [InlineData(Header + "detection: {sel: {event.action: x}, condition: sel}\n", "raises alerts on its own, so it needs an 'id'")]
    [InlineData(Header + "id: TG-DET-001\ndetection: {sel: {event.action: x}, condition: sel}\n", "needs a 'level'")]
    [InlineData(Header + "id: TG-DET-001\nlevel: severe\ndetection: {sel: {event.action: x}, condition: sel}\n", "level 'severe' must be informational")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndetection: {sel: {event.action: x}, condition: sel}\n", "needs a 'description'")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\ndetection: {sel: {event.action: x}, condition: sel}\n", "needs guidance")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\nx-trainguard: {guidance: g, samples: []}\ndetection: {sel: {event.action: x}, condition: sel}\n", "unknown field 'samples' in x-trainguard")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\nx-trainguard: {guidance: g, must_match: [{event.acton: x}]}\ndetection: {sel: {event.action: x}, condition: sel}\n", "sample field 'event.acton' is not a field")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\nx-trainguard: {guidance: g, must_match: [x]}\ndetection: {sel: {event.action: x}, condition: sel}\n", "must be an event (a mapping)")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\nx-trainguard: {guidance: g, account: first-event}\ndetection: {sel: {event.action: x}, condition: sel}\n", "'x-trainguard.account: first-event' is for a correlation")]
    [InlineData(Header + "id: TG-DET-001\nlevel: high\ndescription: d\nx-trainguard: {guidance: g, account: last}\ndetection: {sel: {event.action: x}, condition: sel}\n", "'x-trainguard.account' is 'last'; the one value it takes is 'first-event'")]
    [InlineData("title: t\ntaxonomy: ecs\nlogsource: {product: Linux}\ndetection: {sel: {event.action: x}, condition: sel}\n", "must be lowercase")]
    [InlineData("title: t\ntaxonomy: ecs\nlogsource: {os: linux}\ndetection: {sel: {event.action: x}, condition: sel}\n", "unknown field 'os' in logsource")]
    [InlineData("- a\n- b\n", "a Sigma document must be a mapping")]
    [InlineData("title: [unclosed\n", "not valid YAML")]
    [InlineData("title: t\ntitle: u\n", "Duplicate key")]
    [InlineData("anchor: &a {x: 1}\nother: *a\n", "YAML aliases (*name) are not supported")]
    [InlineData("", "holds no Sigma document")]
    public void A_document_that_is_not_a_rule_TrainGuard_can_run_is_refused(string yaml, string expected)
    {
        var ex = SigmaTest.LoadError(yaml);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yml", ex.Message, StringComparison.Ordinal);
    }

    private const string Base = """
        title: Base
        name: base
        taxonomy: ecs
        logsource: {product: linux}
        detection: {sel: {event.action: process-signal}, condition: sel}
        ---
        title: Correlation
        id: TG-DET-002
        level: high
        description: d
        x-trainguard: {guidance: g}

        """;

    [Theory]
    [InlineData("correlation: {type: event_count, rules: [nothere], group-by: [host.name], timespan: 5m, condition: {gte: 2}}", "refers to 'nothere', which is no rule's id or name")]
    [InlineData("correlation: {type: event_sum, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}}", "unknown correlation type 'event_sum'")]
    [InlineData("correlation: {type: value_sum, rules: [base], group-by: [host.name], timespan: 5m, condition: {field: file.size, gte: 2}}", "correlation type 'value_sum' is not supported")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.nam], timespan: 5m, condition: {gte: 2}}", "unknown field 'host.nam'")]
    [InlineData("correlation: {type: event_count, rules: [base], timespan: 5m, condition: {gte: 2}}", "needs 'group-by'")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5 minutes, condition: {gte: 2}}", "timespan '5 minutes' must be")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 1w, condition: {gte: 2}}", "timespan '1w' must be")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 90d, condition: {gte: 2}}", "longer than the limit")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m}", "needs a 'condition'")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {lt: 3}}", "needs a lower bound")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 0}}", "needs a lower bound")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: -1}}", "takes a whole number")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 99999}}", "more than 10,000 events per group")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {more: 2}}", "unknown field 'more' in condition")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2, field: host.name}}", "'field' belongs to value_count")]
    [InlineData("correlation: {type: value_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}}", "needs 'field'")]
    [InlineData("correlation: {type: value_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2, field: host.nmae}}", "unknown field 'host.nmae'")]
    [InlineData("correlation: {type: temporal, rules: [base], group-by: [host.name], timespan: 5m}", "relates at least two rules")]
    [InlineData("correlation: {type: event_count, rules: [base, base], group-by: [host.name], timespan: 5m, condition: {gte: 2}}", "is referred to twice")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name, host.name], timespan: 5m, condition: {gte: 2}}", "listed twice in group-by")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}, generate: yes}", "'generate' must be true or false")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [acct], timespan: 5m, condition: {gte: 2}, aliases: {acct: {other: user.name}}}", "refers to 'other'")]
    [InlineData("correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}, window: 5m}", "unknown field 'window' in correlation")]
    [InlineData("correlation: {type: event_count, rules: [TG-DET-002], group-by: [host.name], timespan: 5m, condition: {gte: 2}}", "refers to itself")]
    public void A_correlation_TrainGuard_cannot_evaluate_is_refused(string correlation, string expected)
    {
        var ex = SigmaTest.LoadError(Base + correlation + "\n");
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yml:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Correlations_that_refer_to_each_other_in_a_cycle_are_refused()
    {
        var ex = SigmaTest.LoadError(Base.Replace("id: TG-DET-002", "name: one", StringComparison.Ordinal) + """
            correlation: {type: event_count, rules: [two], group-by: [host.name], timespan: 5m, condition: {gte: 2}}
            ---
            title: Two
            name: two
            correlation: {type: event_count, rules: [one], group-by: [host.name], timespan: 5m, condition: {gte: 2}}
            """);
        Assert.Contains("(a cycle)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_id_or_name_used_twice_is_refused_naming_both_places()
    {
        var ex = SigmaTest.LoadError(Base + "correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}}\n---\n" + Base.Split("---")[0]);
        Assert.Contains("name 'base' is already used by base (bad.yml:1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_chained_correlation_groups_only_by_what_the_inner_one_carries()
    {
        var ex = SigmaTest.LoadError(Base.Replace("id: TG-DET-002", "name: inner", StringComparison.Ordinal) + """
            correlation: {type: event_count, rules: [base], group-by: [host.name], timespan: 5m, condition: {gte: 2}}
            ---
            title: Outer
            id: TG-DET-003
            level: high
            description: d
            x-trainguard: {guidance: g}
            correlation: {type: event_count, rules: [inner], group-by: [user.name], timespan: 1h, condition: {gte: 2}}
            """);
        Assert.Contains("'user.name' is not in the group-by of correlation inner", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_and_deeply_nested_rule_files_are_refused_before_they_are_built()
    {
        Assert.Contains("nested deeper than 64", SigmaTest.LoadError(new string('[', 5000) + new string(']', 5000)).Message, StringComparison.Ordinal);
        Assert.Contains("longer than 100", SigmaTest.LoadError("title: " + new string('x', 200), new DetectionOptions { MaxRuleFileBytes = 100 }).Message, StringComparison.Ordinal);
        var many = "title: t\nlist: [" + string.Join(",", Enumerable.Repeat("1", 500)) + "]\n";
        Assert.Contains("more than 100 YAML nodes", SigmaTest.LoadError(many, new DetectionOptions { MaxYamlNodes = 100 }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_from_disk_names_the_file_and_refuses_a_folder_without_rules()
    {
        var folder = Directory.CreateTempSubdirectory("tg-sigma-");
        try
        {
            var path = Path.Combine(folder.FullName, "rules.yml");
            File.WriteAllText(path, Rule.Replace("{0}", "process.executable|endswitch: /kill", StringComparison.Ordinal));
            var ex = Assert.Throws<MalformedInputException>(() => DetectionRuleSet.LoadDirectory(folder.FullName));
            Assert.StartsWith(path + ":11:", ex.Message, StringComparison.Ordinal);

            File.Delete(path);
            ex = Assert.Throws<MalformedInputException>(() => DetectionRuleSet.LoadDirectory(folder.FullName));
            Assert.Contains("holds no rule file", ex.Message, StringComparison.Ordinal);

            ex = Assert.Throws<MalformedInputException>(() => DetectionRuleSet.LoadFiles([path]));
            Assert.Contains("cannot read the rule file", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
