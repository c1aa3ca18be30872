using System.Globalization;
using System.Text;
using System.Text.Json;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Replay;
using TrainGuard.Detections.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Detections.Tests;

/// <summary>
/// The insider incident recorded by <c>scripts/capture-audit.sh</c> (tests/fixtures/audit/insider-incident: a real
/// audit.log and auth.log, with scenario.json as ground truth), fed through the agent's forensic replay as
/// <c>trainguard agent replay</c> writes it, then through the built-in rules: exactly the insider's steps raise hits,
/// each naming his login uid, and the colleague's own kill and logins raise nothing.
/// </summary>
/// <remarks>
/// The recording holds audit and sshd logs only. Two built-in rules need events it cannot contain: the login with the
/// planted key (TG-DET-005) needs the snapshot's <c>ssh-key-added</c> event (the key in authorized_keys, which the
/// agent's snapshot reads, not a log), and the kills over the planted key are logged under the colleague's login uid
/// (the session the key opened), so no rule can attribute them to the insider from these events alone.
/// </remarks>
public sealed class InsiderIncidentTests
{
    private static readonly string Folder = Repository.File("tests", "fixtures", "audit", "insider-incident");

    private static readonly JsonElement Scenario = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "scenario.json"))).RootElement;

    private static readonly IReadOnlyList<string> Lines = Replay();

    [Fact]
    public void Recording_raises_exactly_the_insiders_steps_each_naming_his_login_uid()
    {
        var hits = Run(DetectionRuleSet.Default.CreateEngine(), Lines);

        var insider = Uid("intern7");
        var found = hits.Select(h => (h.Rule.Id, Event(h.EventRef))).ToList();
        Assert.Equal(["TG-DET-004", "TG-DET-001", "TG-DET-006"], found.Select(f => f.Id));
        Assert.All(hits, h => Assert.Equal([h.EventRef], h.EventRefs));
        Assert.All(found, f => Assert.Equal((insider, "intern7"), (f.Item2.GetString("user.audit.id"), f.Item2.GetString("user.audit.name"))));

        var (keys, kill, account) = (found[0].Item2, found[1].Item2, found[2].Item2);
        Assert.Equal((EventActions.FileChanged, Account("intern7").GetProperty("planted_in").GetString(), Uid("lena")), (keys.Action, keys.GetString("file.path"), keys.GetString("file.uid")));
        Assert.Equal((EventActions.ProcessSignal, Pid("rank0"), Uid("lena")), (kill.Action, kill.GetInt64("trainguard.target.pid"), kill.GetString("trainguard.target.user.audit.id")));
        Assert.Equal((EventActions.UserCreated, "0"), (account.Action, account.GetString("user.target.id")));
    }

    [Fact]
    public void Colleagues_own_kill_and_logins_raise_nothing()
    {
        var hits = Run(DetectionRuleSet.Default.CreateEngine(), Lines);
        var lena = Uid("lena");
        var hitRefs = hits.SelectMany(h => h.EventRefs).ToHashSet();

        var own = Lines.Select((line, i) => (Event: EventRecord.Parse(line), Ref: (long)i))
            .Where(e => e.Event.GetString("user.audit.id") == lena || e.Event.GetString("user.name") == "lena")
            .ToList();
        Assert.Contains(own, e => e.Event.Action == EventActions.ProcessSignal && e.Event.GetInt64("trainguard.target.pid") == Pid("eval"));
        Assert.Contains(own, e => e.Event.Action == EventActions.UserLogin && e.Event.GetString("trainguard.ssh.key_fingerprint") == Account("lena").GetProperty("key").GetString());
        Assert.DoesNotContain(own, e => hitRefs.Contains(e.Ref));
    }

    [Fact]
    public void Login_with_the_planted_key_is_in_the_recording_but_its_key_added_event_is_not()
    {
        var events = Lines.Select(EventRecord.Parse).ToList();
        var planted = Account("intern7").GetProperty("planted_key").GetString();
        Assert.Contains(events, e => e.Action == EventActions.UserLogin && e.GetString("trainguard.ssh.key_fingerprint") == planted);
        Assert.DoesNotContain(events, e => e.Action == EventActions.SshKeyAdded);
        Assert.DoesNotContain(Run(DetectionRuleSet.Default.CreateEngine(), Lines), h => h.Rule.Id == "TG-DET-005");
    }

    [Fact]
    public void Replay_and_live_order_give_the_same_hits()
    {
        // Live: each collector's events in the order it emits them (audit, then sshd), as the agent ships them;
        // replay: the same events sorted by time, as JSON lines. Hits are compared by event id.
        var live = ForensicReplay.Read([Path.Combine(Folder, "audit.log")], [Path.Combine(Folder, "auth.log")], Options()).Events;
        var liveEngine = DetectionRuleSet.Default.CreateEngine();
        var liveHits = new List<DetectionHit>();
        for (var i = 0; i < live.Count; i++)
        {
            liveEngine.Process(live[i], i, liveHits);
        }

        var replayHits = Run(DetectionRuleSet.Default.CreateEngine(), Lines);
        Assert.Equal(
            replayHits.Select(h => (h.Rule.Id, Event(h.EventRef).Id)).Order(),
            liveHits.Select(h => (h.Rule.Id, live[(int)h.EventRef].Id)).Order());

        // And a second replay gives the very same hits in the same order.
        Assert.Equal(replayHits.Select(h => h.ToString()), Run(DetectionRuleSet.Default.CreateEngine(), Lines).Select(h => h.ToString()));
    }

    private static List<DetectionHit> Run(DetectionEngine engine, IReadOnlyList<string> lines)
    {
        var hits = new List<DetectionHit>();
        for (var i = 0; i < lines.Count; i++)
        {
            engine.Process(Encoding.UTF8.GetBytes(lines[i]), i, hits);
        }

        return hits;
    }

    /// <summary>The JSON lines <c>trainguard agent replay --audit audit.log --auth auth.log --passwd passwd</c> writes.</summary>
    private static List<string> Replay()
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        var result = ForensicReplay.Run(Path.Combine(Folder, "audit.log"), Path.Combine(Folder, "auth.log"), output, Options());
        Assert.Equal(0, result.ParseErrors);
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    private static ReplayOptions Options() => new()
    {
        HostName = Scenario.GetProperty("host").GetString(),
        AccountNames = PasswdFile.Load(Path.Combine(Folder, "passwd"), Path.Combine(Folder, "group")),
    };

    private static EventRecord Event(long eventRef) => EventRecord.Parse(Lines[(int)eventRef]);

    private static long Pid(string process) => Scenario.GetProperty("processes").GetProperty(process).GetProperty("pid").GetInt64();

    private static JsonElement Account(string name) => Scenario.GetProperty("accounts").GetProperty(name);

    private static string Uid(string name) => Account(name).GetProperty("uid").GetInt32().ToString(CultureInfo.InvariantCulture);
}
