using TrainGuard.Detections.Tests.Support;

namespace TrainGuard.Detections.Tests;

/// <summary>Detection structure (maps AND, lists OR, keywords) and every condition form.</summary>
public sealed class ConditionTests
{
    private const string Detection = """
        sel_kill:
          event.action: process-signal
          trainguard.signal.name: SIGKILL
        sel_term:
          event.action: process-signal
          trainguard.signal.name: SIGTERM
        own:
          trainguard.cross_user: false
        _helper:
          process.name: bash
        """;

    private const string KillOther = """{"event":{"action":"process-signal"},"trainguard":{"signal":{"name":"SIGKILL"},"cross_user":true}}""";
    private const string KillOwn = """{"event":{"action":"process-signal"},"trainguard":{"signal":{"name":"SIGKILL"},"cross_user":false},"process":{"name":"bash"}}""";
    private const string TermOther = """{"event":{"action":"process-signal"},"trainguard":{"signal":{"name":"SIGTERM"},"cross_user":true}}""";
    private const string Hup = """{"event":{"action":"process-signal"},"trainguard":{"signal":{"name":"SIGHUP"},"cross_user":false},"process":{"name":"bash"}}""";
    private const string Other = """{"event":{"action":"user-login"}}""";

    [Theory]
    [InlineData("sel_kill", new[] { true, true, false, false, false })]
    [InlineData("sel_kill and not own", new[] { true, false, false, false, false })]
    [InlineData("sel_kill or sel_term", new[] { true, true, true, false, false })]
    [InlineData("not sel_kill", new[] { false, false, true, true, true })]
    [InlineData("not not sel_kill", new[] { true, true, false, false, false })]
    [InlineData("(sel_kill or sel_term) and not own", new[] { true, false, true, false, false })]
    [InlineData("sel_kill or sel_term and not own", new[] { true, true, true, false, false })]
    [InlineData("not own and sel_kill or sel_term", new[] { true, false, true, false, false })]
    [InlineData("not (own or sel_term)", new[] { true, false, false, false, true })]
    [InlineData("1 of sel_*", new[] { true, true, true, false, false })]
    [InlineData("all of sel_*", new[] { false, false, false, false, false })]
    [InlineData("1 of sel_* and not own", new[] { true, false, true, false, false })]
    [InlineData("1 of *_kill", new[] { true, true, false, false, false })]
    [InlineData("1 of them", new[] { true, true, true, true, false })]
    [InlineData("all of them", new[] { false, false, false, false, false })]
    [InlineData("1 of _*", new[] { false, true, false, true, false })]
    [InlineData("all of _* and not 1 of sel_*", new[] { false, false, false, true, false })]
    [InlineData("(((sel_kill)))", new[] { true, true, false, false, false })]
    public void Condition_combines_search_identifiers(string condition, bool[] expected)
    {
        var set = SigmaTest.Detection(Detection + "\ncondition: " + condition);
        var fired = new[] { KillOther, KillOwn, TermOther, Hup, Other }.Select(e => SigmaTest.Fires(set, e)).ToArray();
        Assert.Equal(expected, fired);
    }

    [Fact]
    public void All_of_them_needs_every_identifier_but_not_the_underscored_ones()
    {
        var set = SigmaTest.Detection("""
            a: {event.action: process-signal}
            b: {trainguard.signal.name: SIGKILL}
            _c: {process.name: never-there}
            condition: all of them
            """);
        Assert.True(SigmaTest.Fires(set, KillOther));
        Assert.False(SigmaTest.Fires(set, TermOther));
    }

    [Fact]
    public void A_list_of_conditions_is_their_or()
    {
        var set = SigmaTest.Detection(Detection + "\ncondition:\n  - sel_kill and not own\n  - sel_term");
        Assert.Equal([true, false, true, false], new[] { KillOther, KillOwn, TermOther, Hup }.Select(e => SigmaTest.Fires(set, e)));
    }

    [Fact]
    public void A_map_ands_its_fields_and_a_list_of_maps_ors_them()
    {
        var set = SigmaTest.Detection("""
            sel:
              - event.action: process-signal
                trainguard.signal.name: SIGKILL
              - event.action: user-login
            condition: sel
            """);
        Assert.True(SigmaTest.Fires(set, KillOther));
        Assert.True(SigmaTest.Fires(set, Other));
        Assert.False(SigmaTest.Fires(set, TermOther));
    }

    [Fact]
    public void Keywords_are_found_in_any_string_value_of_the_event()
    {
        var set = SigmaTest.Detection("""
            keywords:
              - 'time.sleep'
              - 'os.system*id'
            condition: keywords
            """);
        Assert.True(SigmaTest.Fires(set, """{"trainguard":{"scan":{"details":["calls TIME.SLEEP(30)"]}}}"""));
        Assert.True(SigmaTest.Fires(set, """{"event":{"original":"x os.system('id') y"}}"""));
        Assert.True(SigmaTest.Fires(set, """{"labels_unknown_to_rules":{"deep":[{"x":"time.sleep"}]}}"""));
        Assert.False(SigmaTest.Fires(set, """{"event":{"original":"time sleep"},"n":12}"""));
    }

    [Fact]
    public void Keywords_with_all_need_every_keyword_somewhere_in_the_event()
    {
        var set = SigmaTest.Detection("""
            keywords:
              '|all':
                - 'new user'
                - 'UID=0'
            condition: keywords
            """);
        Assert.True(SigmaTest.Fires(set, """{"event":{"original":"useradd: new user: name=x, UID=0, GID=0"}}"""));
        Assert.True(SigmaTest.Fires(set, """{"event":{"original":"new user"},"message_like":{"x":"uid=0"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"event":{"original":"new user: name=x, UID=1001"}}"""));
    }

    [Fact]
    public void Keywords_combine_with_field_selections()
    {
        var set = SigmaTest.Detection("""
            sel: {event.action: file-changed}
            keywords: [authorized_keys]
            condition: sel and keywords
            """);
        Assert.True(SigmaTest.Fires(set, """{"event":{"action":"file-changed"},"file":{"path":"/home/a/.ssh/authorized_keys"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"event":{"action":"file-changed"},"file":{"path":"/etc/passwd"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"event":{"action":"file-created"},"file":{"path":"/home/a/.ssh/authorized_keys"}}"""));
    }

    [Fact]
    public void Fields_are_read_from_nested_objects_flattened_names_and_arrays()
    {
        var set = SigmaTest.Detection("{sel: {user.audit.id: '1600', event.category: file}, condition: sel}");
        Assert.True(SigmaTest.Fires(set, """{"user":{"audit":{"id":"1600"}},"event":{"category":["process","file"]}}"""));
        Assert.True(SigmaTest.Fires(set, """{"user.audit.id":"1600","event.category":"file"}"""));
        Assert.True(SigmaTest.Fires(set, """{"user":{"audit.id":"1600"},"event":{"category":"file"}}"""));
        Assert.True(SigmaTest.Fires(set, """{"us\u0065r":{"audit":{"id":"1600"}},"event":{"category":"file"}}"""));
        Assert.False(SigmaTest.Fires(set, """{"user":{"audit":{"id":"1601"}},"event":{"category":["process"]}}"""));
        Assert.False(SigmaTest.Fires(set, """{"user":{"id":"1600"},"event":{"category":"file"}}"""));
    }

    [Fact]
    public void Arrays_of_objects_give_every_element_value_to_the_field()
    {
        var set = SigmaTest.Detection("{sel: {trainguard.ckpt.optimizer.maximize: true}, condition: sel}");
        Assert.True(SigmaTest.Fires(set, """{"trainguard":{"ckpt":{"optimizer":[{"maximize":false},{"maximize":true}]}}}"""));
        Assert.False(SigmaTest.Fires(set, """{"trainguard":{"ckpt":{"optimizer":[{"maximize":false},{"lr":0.1}]}}}"""));
    }
}
