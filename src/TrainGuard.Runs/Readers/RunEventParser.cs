using System.Globalization;
using System.Numerics;
using System.Text.Json;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// Reads one <c>run-*</c> event (the contract in docs/events.md, "Actions emitted by the training client") from its
/// JSON: nested objects as the ledger stores them, or dotted keys (<c>"trainguard.step.loss": 2.3</c>) as a hand-made
/// file may have them. Used by the JSONL reader and by the server's run detectors. A field of the wrong type is an
/// error naming the field; a field left out is null.
/// </summary>
public static class RunEventParser
{
    public const string Started = "run-started";
    public const string Step = "run-step";
    public const string Attestation = "run-attestation";

    /// <summary>The largest world size believed (a larger one is an error).</summary>
    public const int MaxWorldSize = 1 << 20;

    /// <summary>Learning rates read per step (one per parameter group).</summary>
    public const int MaxParamGroups = 256;

    /// <summary>
    /// The run event in <paramref name="root"/>, or null when it is not a <c>run-started</c>, <c>run-step</c> or
    /// <c>run-attestation</c> event (other events are not the detectors' business).
    /// </summary>
    /// <exception cref="MalformedInputException">A run event with a field of the wrong type or out of range.</exception>
    public static RunEvent? Read(JsonElement root, long position, string source, int? line)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Error(source, line, position, null, "expected a JSON object (one event per line)");
        }

        var action = String(root, "event.action", source, line, position);
        RunEventKind kind;
        switch (action)
        {
            case Started: kind = RunEventKind.Started; break;
            case Step: kind = RunEventKind.Step; break;
            case Attestation: kind = RunEventKind.Attestation; break;
            default: return null;
        }

        var runId = String(root, "trainguard.run.id", source, line, position);
        if (string.IsNullOrEmpty(runId))
        {
            throw Error(source, line, position, "trainguard.run.id", $"a {action} event needs the run's id");
        }

        var worldSize = (int)(Integer(root, "trainguard.run.world_size", source, line, position, 1, MaxWorldSize) ?? 1);
        var rank = (int)(Integer(root, "trainguard.run.rank", source, line, position, 0, MaxWorldSize - 1) ?? 0);
        if (rank >= worldSize)
        {
            throw Error(source, line, position, "trainguard.run.rank", $"rank {rank} is not below the world size {worldSize}");
        }

        DateTimeOffset? timestamp = null;
        if (String(root, "@timestamp", source, line, position) is { } text)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                throw Error(source, line, position, "@timestamp", "not an RFC 3339 time");
            }

            timestamp = parsed;
        }

        var nonFinite = Strings(root, "trainguard.step.nonfinite", source, line, position);
        RunStep? step = null;
        if (kind == RunEventKind.Step)
        {
            step = new RunStep
            {
                Step = Integer(root, "trainguard.step.step", source, line, position, 0, long.MaxValue) ?? throw Error(source, line, position, "trainguard.step.step", "a run-step event needs its step number"),
                TimeMs = Number(root, "trainguard.step.time_ms", nonFinite, source, line, position),
                OptimizerMs = Number(root, "trainguard.step.optimizer_ms", nonFinite, source, line, position),
                Loss = Number(root, "trainguard.step.loss", nonFinite, source, line, position),
                GradNorm = Number(root, "trainguard.step.grad_norm", nonFinite, source, line, position),
                UpdateNorm = Number(root, "trainguard.step.update_norm", nonFinite, source, line, position),
                Cosine = Number(root, "trainguard.step.cosine", nonFinite, source, line, position),
                MomentCosine = Number(root, "trainguard.step.moment_cosine", nonFinite, source, line, position),
                Lr = Numbers(root, "trainguard.step.lr", source, line, position),
                BatchHash = String(root, "trainguard.step.batch_hash", source, line, position),
                RngHash = String(root, "trainguard.step.rng_hash", source, line, position),
                Seed = Seed(root, "trainguard.step.seed", source, line, position),
                ParamHash = String(root, "trainguard.step.param_hash", source, line, position),
            };
        }

        return new RunEvent
        {
            Kind = kind,
            RunId = runId,
            RunName = String(root, "trainguard.run.name", source, line, position),
            Rank = rank,
            WorldSize = worldSize,
            User = String(root, "user.name", source, line, position),
            Host = String(root, "host.name", source, line, position),
            Timestamp = timestamp,
            Position = line ?? position,
            InitialSeed = kind == RunEventKind.Started ? Seed(root, "trainguard.run.seed.initial", source, line, position) : null,
            Optimizer = kind == RunEventKind.Started ? String(root, "trainguard.run.optimizer", source, line, position) : null,
            SampleEvery = kind == RunEventKind.Started ? Integer(root, "trainguard.run.sample_every", source, line, position, 1, int.MaxValue) : null,
            Step = step,
            AttestationOk = kind != RunEventKind.Attestation || String(root, "event.outcome", source, line, position) != "failure",
            FailedChecks = kind == RunEventKind.Attestation ? FailedChecks(root) : [],
            AttestationStep = kind == RunEventKind.Attestation ? Integer(root, "trainguard.attest.step", source, line, position, 0, long.MaxValue) : null,
        };
    }

    /// <summary>The value at a dotted path, through nested objects or dotted keys (or a mix).</summary>
    public static JsonElement? Find(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (element.TryGetProperty(path, out var whole))
        {
            return whole;
        }

        for (var dot = path.IndexOf('.', StringComparison.Ordinal); dot > 0; dot = path.IndexOf('.', dot + 1))
        {
            if (element.TryGetProperty(path.AsSpan(0, dot), out var child) && Find(child, path[(dot + 1)..]) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    private static IReadOnlyList<string> FailedChecks(JsonElement root)
    {
        if (Find(root, "trainguard.attest.checks") is not { ValueKind: JsonValueKind.Array } checks)
        {
            return [];
        }

        var failed = new List<string>();
        foreach (var check in checks.EnumerateArray())
        {
            if (check.ValueKind == JsonValueKind.Object && Find(check, "ok") is { ValueKind: JsonValueKind.False })
            {
                var name = Find(check, "name") is { ValueKind: JsonValueKind.String } n ? n.GetString() : "?";
                var detail = Find(check, "detail") is { ValueKind: JsonValueKind.String } d ? d.GetString() : null;
                failed.Add(detail is null ? name! : $"{name}: {detail}");
            }
        }

        return failed;
    }

    private static string? String(JsonElement root, string field, string source, int? line, long position) => Find(root, field) switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw Error(source, line, position, field, "expected a string"),
    };

    private static long? Integer(JsonElement root, string field, string source, int? line, long position, long min, long max)
    {
        switch (Find(root, field))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return null;
            case { ValueKind: JsonValueKind.Number } value when value.TryGetInt64(out var number):
                if (number < min || number > max)
                {
                    throw Error(source, line, position, field, $"{number} is out of range ({min}..{max})");
                }

                return number;
            default:
                throw Error(source, line, position, field, "expected an integer");
        }
    }

    /// <summary>A seed: a non-negative integer (up to 2^64-1, as torch.initial_seed() gives), or its decimal string.</summary>
    private static string? Seed(JsonElement root, string field, string source, int? line, long position)
    {
        var text = Find(root, field) switch
        {
            null or { ValueKind: JsonValueKind.Null } => null,
            { ValueKind: JsonValueKind.Number } value => value.GetRawText(),
            { ValueKind: JsonValueKind.String } value => value.GetString(),
            _ => throw Error(source, line, position, field, "expected an integer seed"),
        };
        if (text is null)
        {
            return null;
        }

        if (text.Length > 40 || !BigInteger.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
        {
            throw Error(source, line, position, field, "expected a non-negative integer seed");
        }

        return seed.ToString(CultureInfo.InvariantCulture);
    }

    private static double? Number(JsonElement root, string field, IReadOnlyList<string> nonFinite, string source, int? line, long position)
    {
        switch (Find(root, field))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                // The client sends NaN/Inf as null and names the field in trainguard.step.nonfinite.
                var name = field[(field.LastIndexOf('.') + 1)..];
                return nonFinite.Contains(name, StringComparer.Ordinal) ? double.NaN : null;
            case { ValueKind: JsonValueKind.Number } value when value.TryGetDouble(out var number):
                return number;
            default:
                throw Error(source, line, position, field, "expected a number");
        }
    }

    private static double[]? Numbers(JsonElement root, string field, string source, int? line, long position)
    {
        switch (Find(root, field))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return null;
            case { ValueKind: JsonValueKind.Number } single when single.TryGetDouble(out var one):
                return [one];
            case { ValueKind: JsonValueKind.Array } array:
                var count = array.GetArrayLength();
                if (count > MaxParamGroups)
                {
                    throw Error(source, line, position, field, $"{count} learning rates; at most {MaxParamGroups} parameter groups are read");
                }

                var values = new double[count];
                var i = 0;
                foreach (var item in array.EnumerateArray())
                {
                    values[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetDouble(out var v) ? v
                        : item.ValueKind == JsonValueKind.Null ? double.NaN
                        : throw Error(source, line, position, field, "expected a list of numbers");
                }

                return values;
            default:
                throw Error(source, line, position, field, "expected a list of numbers");
        }
    }

    private static IReadOnlyList<string> Strings(JsonElement root, string field, string source, int? line, long position)
    {
        switch (Find(root, field))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return [];
            case { ValueKind: JsonValueKind.Array } array:
                var list = new List<string>();
                foreach (var item in array.EnumerateArray())
                {
                    list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Error(source, line, position, field, "expected a list of field names"));
                }

                return list;
            default:
                throw Error(source, line, position, field, "expected a list of field names");
        }
    }

    private static MalformedInputException Error(string source, int? line, long position, string? field, string problem) =>
        MalformedInputException.CreateAt(InputErrorKind.Syntax, field is null ? problem : $"{field}: {problem}", source, line, offset: position, field: field);
}
