using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Shipping;
using TrainGuard.Events;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Agent.Detections;

/// <summary>
/// Detection samples <c>{ack: {kept: N, answer: M, fork: BOOL}}</c>: the shipper's acknowledgement check
/// (<see cref="LedgerAcknowledgements"/>) first takes an answer whose signed tree head has size N, then one of size M
/// from the same log (or, with <c>fork: true</c>, from a log with the same key and another history), each listing
/// its last leaf; the events are the alerts the second answer raises.
/// </summary>
internal static class AcknowledgementSamples
{
    private const int MaxEntries = 100_000;

    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    public static bool IsAcknowledgementSample(JsonObject spec) => spec.Count == 1 && spec["ack"] is JsonObject;

    public static async Task<IReadOnlyList<EventRecord>> EventsAsync(JsonObject spec, CancellationToken cancellationToken)
    {
        var ack = (JsonObject)spec["ack"]!;
        var kept = Size(ack, "kept");
        var answer = Size(ack, "answer");
        var fork = ack["fork"] is JsonValue f && f.GetValueKind() == JsonValueKind.True;
        if (ack.Any(p => p.Key is not ("kept" or "answer" or "fork")))
        {
            throw MalformedInputException.Create(InputErrorKind.Config, "an ack sample is {ack: {kept: N, answer: M, fork: BOOL}}");
        }

        using var key = NoteSigner.Generate("sample.trainguard/ledger");
        var honest = Log("entry", Math.Max(kept, answer));
        var answering = fork ? Log("forged", Math.Max(kept, answer)) : honest;
        using var folder = new SampleFolder("ack-sample");
        var checker = new LedgerAcknowledgements(folder.Path, key.Verifier);
        var events = new List<EventRecord>();
        await Check(honest, kept);
        events.Clear();
        await Check(answering, answer);
        return events;

        async Task Check(MerkleTree tree, long size)
        {
            var head = new TreeHead("sample.trainguard/ledger", size, tree.RootHash(size)).Sign(key);
            var result = new EventBatchResult(1, 0, size, head, [new EventAppendResult("sample", size - 1, false)]);
            var check = await checker.CheckAsync(result, _ => Task.FromResult(key.VerifierKey), (from, to, _) => Task.FromResult(tree.ConsistencyProof(from, to)), T0, cancellationToken);
            if (check.Alert is { } alert)
            {
                events.Add(alert);
            }
        }
    }

    private static MerkleTree Log(string prefix, long size)
    {
        var levels = new MerkleLevels();
        for (var i = 0; i < size; i++)
        {
            levels.AppendEntry(Encoding.UTF8.GetBytes($"{prefix}-{i}"));
        }

        return new MerkleTree(levels);
    }

    private static long Size(JsonObject ack, string name) =>
        ack[name] is JsonValue value && value.TryGetValue<long>(out var size) && size is >= 1 and <= MaxEntries
            ? size
            : throw MalformedInputException.Create(InputErrorKind.Config, $"an ack sample's '{name}' is a tree size from 1 to {MaxEntries}");
}
