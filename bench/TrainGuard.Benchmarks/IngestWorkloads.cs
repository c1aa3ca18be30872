using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Runs.Readers;

namespace TrainGuard.Benchmarks;

/// <summary>
/// What <c>ingest-load</c>'s agents post and what its probe raises (<c>--workload</c>). The load loop, the probe's
/// polling and the figures are the same for every workload.
/// </summary>
internal interface IIngestWorkload
{
    /// <summary>The name <c>--workload</c> takes.</summary>
    string Name { get; }

    /// <summary>The node agent <paramref name="agent"/> posts as: its events carry this <c>host.name</c>, its token is bound to it.</summary>
    string Host(int agent);

    /// <summary>The request bodies agent <paramref name="agent"/> posts, one per call, each of <c>--batch</c> events.</summary>
    Func<byte[]> Batches(int agent);

    /// <summary>Probe <paramref name="n"/>: a body that raises one alert of its own, and the <c>GET /api/v1/alerts</c> query that lists it.</summary>
    (byte[] Body, string AlertsQuery) Probe(int n);
}

internal static class IngestWorkloads
{
    public const string AgentEventsName = "agent-events";
    public const string RunStepsName = "run-steps";

    /// <summary><c>--batch</c> when it is not given.</summary>
    public static int DefaultBatch(string workload) => workload == RunStepsName ? RunStepsWorkload.RanksPerNode : 500;

    public static IIngestWorkload Create(string workload, int agents, int batch) => workload == RunStepsName
        ? new RunStepsWorkload(agents, batch)
        : new AgentEventsWorkload(batch);

    public static string NodeName(int node) => "gpu-node-" + node.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>A body <c>{"events":[...]}</c> of JSON lines.</summary>
    public static byte[] Body(IEnumerable<string> events) => Encoding.UTF8.GetBytes("{\"events\":[" + string.Join(',', events) + "]}");
}

/// <summary>
/// <c>agent-events</c> (the default): one agent per node posting realistic benign agent events (<see cref="AgentEvents"/>);
/// the probe creates a uid-0 account (TG-DET-006) under a fresh login uid.
/// </summary>
internal sealed class AgentEventsWorkload(int batch) : IIngestWorkload
{
    public string Name => IngestWorkloads.AgentEventsName;

    public string Host(int agent) => IngestWorkloads.NodeName(agent);

    public Func<byte[]> Batches(int agent)
    {
        var events = new AgentEvents(benign: true, host: Host(agent));
        return () => events.Body(batch);
    }

    public (byte[] Body, string AlertsQuery) Probe(int n)
    {
        var uid = (70_000 + n).ToString(CultureInfo.InvariantCulture);
        var created = new EventRecord(DateTimeOffset.UtcNow, EventActions.UserCreated)
            .Set(EventFields.Outcome, "success").Set(EventFields.Module, "auditd").Set(EventFields.HostName, Host(0))
            .Set("user.audit.id", uid).Set("user.audit.name", "probe" + uid).Set("user.id", "0").Set("process.executable", "/usr/sbin/useradd")
            .Set("user.target.id", "0").Set("user.target.name", "sysbackup" + uid);
        return (IngestWorkloads.Body([created.ToJsonLine()]), $"rule=TG-DET-006&user={uid}&limit=1");
    }
}

/// <summary>
/// <c>run-steps</c>: the training client's events of one data-parallel job (docs/events.md, "Actions emitted by the
/// training client"). Each agent posts for <c>--batch</c> ranks (rank = agent × batch + i, world size = agents × batch):
/// first a <c>run-started</c> per rank (<c>sample_every</c> 1), then one <c>run-step</c> per rank each period, the step
/// number advancing once per period, every update along the gradient (cosine 0.7–0.9, moment cosine 1). Nodes hold
/// <see cref="RanksPerNode"/> ranks (or <c>--batch</c>, when larger): with <c>--batch 1</c> each rank's client posts
/// itself with its node's token, as the Python client does without a local agent. The probe starts a fresh one-rank
/// run of its own user (<c>probe-TAG-N</c>) whose first step goes against the gradient (cosine −0.9, moment cosine −1):
/// the run detectors report it live as a <c>run-anomaly</c>, and TG-DET-018 lists it as an alert on that user.
/// </summary>
internal sealed class RunStepsWorkload : IIngestWorkload
{
    public const int RanksPerNode = 8;
    private readonly int _agents;
    private readonly int _ranksPerAgent;
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];

    public RunStepsWorkload(int agents, int ranksPerAgent) => (_agents, _ranksPerAgent) = (agents, ranksPerAgent);

    public string Name => IngestWorkloads.RunStepsName;

    public string Host(int agent) => IngestWorkloads.NodeName(agent * _ranksPerAgent / Math.Max(RanksPerNode, _ranksPerAgent));

    public Func<byte[]> Batches(int agent)
    {
        var host = Host(agent);
        var ranks = Enumerable.Range(agent * _ranksPerAgent, _ranksPerAgent).ToArray();
        var world = _agents * _ranksPerAgent;
        var random = new Random(agent);
        var step = 0L;
        return () =>
        {
            var now = DateTimeOffset.UtcNow;
            var events = step == 0
                ? ranks.Select(rank => Started(Run(RunEventParser.Started, now, host, "lena", "job-" + _tag, rank, world)))
                : ranks.Select(rank => Step(Run(RunEventParser.Step, now, host, "lena", "job-" + _tag, rank, world), step, random, Math.Round(0.7 + (random.NextDouble() * 0.2), 6), 1));
            var body = IngestWorkloads.Body(events);
            step++;
            return body;
        };
    }

    public (byte[] Body, string AlertsQuery) Probe(int n)
    {
        var user = $"probe-{_tag}-{n}";
        var now = DateTimeOffset.UtcNow;
        string[] events =
        [
            Started(Run(RunEventParser.Started, now, Host(0), user, user, rank: 0, world: 1)),
            Step(Run(RunEventParser.Step, now, Host(0), user, user, rank: 0, world: 1), step: 1, Random.Shared, cosine: -0.9, momentCosine: -1),
        ];
        return (IngestWorkloads.Body(events), $"rule=TG-DET-018&user={user}&limit=1");
    }

    /// <summary>The envelope the client gives every <c>run-*</c> event of rank <paramref name="rank"/>.</summary>
    private static EventRecord Run(string action, DateTimeOffset at, string host, string user, string runId, int rank, int world) =>
        new EventRecord(at, action)
            .Set(EventFields.Module, "run").Set(EventFields.Dataset, "run").Set(EventFields.HostName, host)
            .Set("user.name", user).Set("user.id", "2001").Set("process.pid", 4000 + (rank % RanksPerNode))
            .Set("trainguard.run.id", runId).Set("trainguard.run.name", "llama-70b").Set("trainguard.run.rank", rank)
            .Set("trainguard.run.world_size", world).Set("trainguard.run.local_rank", rank % RanksPerNode);

    private static string Started(EventRecord run) => run
        .Set("trainguard.run.torch_version", "2.5.1").Set("trainguard.run.python_version", "3.11.9")
        .Set("trainguard.run.optimizer", "torch.optim.adamw.AdamW").Set("trainguard.run.seed.initial", "1234")
        .Set("trainguard.run.sample_every", 1)
        .ToJsonLine();

    private static string Step(EventRecord run, long step, Random random, double cosine, double momentCosine)
    {
        var batchHash = new byte[32];
        random.NextBytes(batchHash);
        return run
            .Set("trainguard.step.step", step)
            .Set("trainguard.step.time_ms", Math.Round(960 + (random.NextDouble() * 40), 3))
            .Set("trainguard.step.optimizer_ms", Math.Round(20 + (random.NextDouble() * 4), 3))
            .Set("trainguard.step.loss", Math.Round(2.5 - (step * 0.0005) + (random.NextDouble() * 0.05), 6))
            .Set("trainguard.step.grad_norm", Math.Round(1 + random.NextDouble(), 6))
            .Set("trainguard.step.update_norm", Math.Round(0.001 + (random.NextDouble() * 0.0002), 6))
            .Set("trainguard.step.cosine", cosine)
            .Set("trainguard.step.moment_cosine", momentCosine)
            .SetNode("trainguard.step.lr", new JsonArray(0.0001, 0.0001))
            .Set("trainguard.step.batch_hash", Convert.ToHexStringLower(batchHash))
            .ToJsonLine();
    }
}
