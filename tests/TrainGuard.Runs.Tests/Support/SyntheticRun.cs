using System.Security.Cryptography;
using System.Text;
using TrainGuard.Events;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Tests.Support;

/// <summary>
/// A deterministic synthetic training run in the contract's <c>run-*</c> events (docs/events.md): every number comes
/// from a hash of (run, rank, step), so the same settings always write the same bytes. A clean run follows the
/// declared linear schedule (<see cref="Manifest"/>); the sabotage settings reproduce the reference attacker's
/// moves: flipped updates that also sleep, a changed seed, a changed data order, a failed attestation, a slow rank.
/// </summary>
public sealed record SyntheticRun
{
    public const string Manifest = """
        version: 1
        name: synthetic
        seed: 42
        world_size: 2
        max_steps: 240
        optimizer:
          name: AdamW
          lr: 0.0005
        scheduler:
          name: LambdaLR
          schedule: linear
          warmup_steps: 5
        """;

    public const int ManifestMaxSteps = 240;

    public string RunId { get; init; } = "job-1001";

    public string Name { get; init; } = "synthetic";

    public int WorldSize { get; init; } = 2;

    public int Steps { get; init; } = 240;

    public long Seed { get; init; } = 42;

    /// <summary>Seconds between steps (the step time is this minus a little).</summary>
    public double StepSeconds { get; init; } = 2.0;

    public DateTimeOffset Start { get; init; } = new(2026, 12, 7, 1, 0, 0, TimeSpan.Zero);

    /// <summary>From this step on, updates are flipped (cos &lt; 0) with <see cref="FlipChance"/>, and flipped steps sleep <see cref="SleepMs"/>.</summary>
    public int? FlipFrom { get; init; }

    public double FlipChance { get; init; } = 1.0;

    public double SleepMs { get; init; }

    /// <summary>Only ranks below this are flipped (null: all).</summary>
    public int? FlipRanks { get; init; }

    /// <summary>From this step on, batches come in another order (same seed).</summary>
    public int? DataOrderFrom { get; init; }

    /// <summary>An attestation that fails at this step (on rank 0).</summary>
    public int? AttestationFailsAt { get; init; }

    /// <summary>This rank is slow (step time × <see cref="SlowFactor"/>) from <see cref="SlowFrom"/>.</summary>
    public int? SlowRank { get; init; }

    public int SlowFrom { get; init; }

    public double SlowFactor { get; init; } = 1.6;

    /// <summary>Every rank is slower by this factor from <see cref="SlowFrom"/> (a sustained slowdown).</summary>
    public double RunSlowdown { get; init; } = 1.0;

    /// <summary>The learning rate is scaled by this from step 100 (a schedule that is not the declared one).</summary>
    public double LrScale { get; init; } = 1.0;

    public string User { get; init; } = "lena";

    public string Host { get; init; } = "gpu-node-2";

    /// <summary>The JSONL lines (one event each, in time order, ranks interleaved).</summary>
    public IEnumerable<string> Lines()
    {
        for (var rank = 0; rank < WorldSize; rank++)
        {
            yield return Event(Start.AddMilliseconds(rank), RunEventParser_Started, rank, 0)
                .Set("trainguard.run.torch_version", "1.13.0")
                .Set("trainguard.run.python_version", "3.11.2")
                .Set("trainguard.run.optimizer", "torch.optim.adamw.AdamW")
                .Set("trainguard.run.manifest", "run.yaml")
                .Set("trainguard.run.seed.initial", Seed)
                .Set("trainguard.run.sample_every", 1)
                .ToJsonLine();
            yield return Attestation(Start.AddMilliseconds(10 + rank), rank, 0, ok: true);
        }

        int? firstFlip = null;
        for (var step = 0; step < Steps; step++)
        {
            for (var rank = 0; rank < WorldSize; rank++)
            {
                var time = Start.AddSeconds(StepSeconds * (step + 1)).AddMilliseconds(rank);
                var flipped = FlipFrom is { } from && step >= from && (FlipRanks is null || rank < FlipRanks) && Unit(step, rank, "flip") < FlipChance;
                var stepMs = (StepSeconds * 1000 * 0.9) + (Unit(step, rank, "time") * 40);
                var optimizerMs = 20 + (Unit(step, rank, "opt") * 4);
                if (flipped)
                {
                    firstFlip ??= step;
                    stepMs += SleepMs;
                    optimizerMs += SleepMs;
                }

                if (step >= SlowFrom)
                {
                    stepMs *= (SlowRank == rank ? SlowFactor : 1.0) * RunSlowdown;
                }

                var baseLoss = (2.5 * Math.Exp(-step / 120.0)) + 0.3 + (Unit(step, rank, "loss") * 0.01);
                var loss = firstFlip is { } f && step > f ? baseLoss + ((step - f) * 0.004) : baseLoss;
                var lr = 0.0005 * (step < 5 ? step / 5.0 : Math.Max(0, (ManifestMaxSteps - step) / (double)(ManifestMaxSteps - 5))) * (step >= 100 ? LrScale : 1.0);
                var order = DataOrderFrom is { } d && step >= d ? "shuffled" : "declared";
                var record = Event(time, "run-step", rank, step)
                    .Set("trainguard.step.step", step)
                    .Set("trainguard.step.time_ms", Math.Round(stepMs, 3))
                    .Set("trainguard.step.optimizer_ms", Math.Round(optimizerMs, 3))
                    .Set("trainguard.step.loss", Math.Round(loss, 6))
                    .Set("trainguard.step.grad_norm", Math.Round(1 + Unit(step, rank, "grad"), 6))
                    .Set("trainguard.step.update_norm", Math.Round(0.001 + (Unit(step, rank, "upd") * 0.001), 6))
                    .Set("trainguard.step.cosine", Math.Round(flipped ? -0.9 - (Unit(step, rank, "cos") * 0.09) : 0.7 + (Unit(step, rank, "cos") * 0.29), 6))
                    .SetNode("trainguard.step.lr", new System.Text.Json.Nodes.JsonArray(lr, lr))
                    .Set("trainguard.step.batch_hash", Hash($"{Seed}/{order}/{step}/{rank}"));
                if (step % 10 == 0)
                {
                    record.Set("trainguard.step.rng_hash", Hash($"rng/{Seed}/{step}/{rank}")).Set("trainguard.step.seed", Seed);
                }

                yield return record.ToJsonLine();
                if (AttestationFailsAt == step && rank == 0)
                {
                    yield return Attestation(time.AddMilliseconds(5), rank, step, ok: false);
                }
            }
        }
    }

    /// <summary>The whole run as JSONL text.</summary>
    public string Text() => string.Concat(Lines().Select(l => l + "\n"));

    /// <summary>The run read back through the JSONL reader.</summary>
    public RunLog Read() => TrainGuard.Runs.Readers.RunJsonlReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(Text())), RunId + ".jsonl");

    private const string RunEventParser_Started = "run-started";

    private string Attestation(DateTimeOffset time, int rank, int step, bool ok)
    {
        var checks = new System.Text.Json.Nodes.JsonArray(
            Check("step-code", ok, ok ? "matches torch/optim/adamw.py" : "step's code object differs from torch/optim/adamw.py (co_code, 2 constants)"),
            Check("wrapped-chain", true, "2 wrappers, all torch's"),
            Check("instance-patch", true, "no 'step' in vars(optimizer)"),
            Check("record-hash", ok, ok ? "RECORD sha256 matches" : "torch/optim/adamw.py does not match RECORD"));
        var record = Event(time, "run-attestation", rank, step)
            .Set("event.outcome", ok ? "success" : "failure")
            .SetNode("trainguard.attest.checks", checks);
        if (!ok)
        {
            record.Set("event.kind", "alert").SetNode("trainguard.finding", new System.Text.Json.Nodes.JsonObject { ["rule"] = "TG-RUN-001", ["severity"] = "critical" });
        }

        return record.ToJsonLine();
    }

    private static System.Text.Json.Nodes.JsonObject Check(string name, bool ok, string detail) => new() { ["name"] = name, ["ok"] = ok, ["detail"] = detail };

    private EventRecord Event(DateTimeOffset time, string action, int rank, int step) =>
        new EventRecord(time, action, EventKinds.Event, Id($"{RunId}/{action}/{rank}/{step}/{time.UtcTicks}"))
            .Set(EventFields.Module, "run")
            .Set(EventFields.Dataset, "run")
            .Set(EventFields.HostName, Host)
            .Set("user.name", User)
            .Set("user.id", "2001")
            .Set("process.pid", 4242 + rank)
            .Set("trainguard.run.id", RunId)
            .Set("trainguard.run.name", Name)
            .Set("trainguard.run.rank", rank)
            .Set("trainguard.run.world_size", WorldSize)
            .Set("trainguard.run.local_rank", rank % 8);

    /// <summary>A number in [0, 1) from (run seed, rank, step, purpose): the same every time.</summary>
    private double Unit(int step, int rank, string purpose)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{Seed}/{purpose}/{step}/{rank}"));
        return BitConverter.ToUInt32(bytes, 0) / (double)uint.MaxValue;
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string Id(string text)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x70);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString("D");
    }

}
