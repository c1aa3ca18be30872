using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Events;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Tests.Signing;

/// <summary>
/// The ledger's answers as <see cref="CheckpointLedger.FetchAsync"/> reads them, from a stub server built with the real
/// ledger primitives: a proven record is accepted, and hostile or mangled answers never escape as anything but a
/// ledger problem (MalformedInputException, the one error for an answer that is not a TrainGuard server's) or an
/// unproven record.
/// </summary>
public sealed class LedgerAnswerTests
{
    private static readonly ModelManifest Manifest = ModelManifest.Create("checkpoint-6", [new ManifestEntry("optimizer.pt", "sha256", new byte[32])], new ManifestSerialization());

    private static (string Body, NoteSigner Signer, string Id) ProvenAnswer()
    {
        var signer = NoteSigner.Generate("stub.trainguard/ledger");
        var record = CheckpointLedger.SignedEvent(Manifest, "/c/checkpoint-6", "/c/checkpoint-6/model.sig", "hint", 32, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), "alice", "node-1");
        var entry = record.ToCanonicalJson();
        var leaf = MerkleHash.HashLeaf(entry);
        var note = new TreeHead("stub.trainguard/ledger", 1, leaf).Sign(signer);
        var body = $"{{\"id\":\"{record.Id}\",\"index\":0,\"leaf_hash\":\"{Convert.ToBase64String(leaf)}\",\"event\":{Encoding.UTF8.GetString(entry)},\"tree_size\":1,\"checkpoint\":{JsonValue.Create(note).ToJsonString()},\"inclusion_proof\":[]}}";
        return (body, signer, record.Id);
    }

    [Fact]
    public async Task A_proven_record_is_read_with_who_recorded_it()
    {
        var (body, signer, id) = ProvenAnswer();
        using var handler = new StubHandler(_ => body);
        using var api = new TrainGuardApiClient(new Uri("http://stub/"), "t", handler: handler);
        var ledger = new LedgerConnection(api) { PinnedKey = signer.Verifier };

        var record = await CheckpointLedger.FetchAsync(ledger, id);

        Assert.NotNull(record);
        Assert.Null(record.ProofProblem);
        Assert.Equal(CheckpointLedger.ManifestDigest(Manifest), record.RecordedDigest);
        Assert.Equal(("alice", "node-1", 0L), (record.UserName, record.HostName, record.Index));
        signer.Dispose();
    }

    [Fact]
    public async Task Mangled_answers_are_ledger_problems_never_crashes()
    {
        var (body, signer, id) = ProvenAnswer();
        var original = body[(body.IndexOf("\"event\":", StringComparison.Ordinal) + 8)..body.IndexOf(",\"tree_size\"", StringComparison.Ordinal)];
        var random = new Random(5);
        var bytes = Encoding.UTF8.GetBytes(body);
        for (var round = 0; round < 400; round++)
        {
            var mutated = (byte[])bytes.Clone();
            if (round % 4 == 0)
            {
                mutated = mutated[..random.Next(mutated.Length)];
            }
            else
            {
                for (var i = 0; i < 1 + random.Next(4); i++)
                {
                    mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                }
            }

            var text = Encoding.UTF8.GetString(mutated);
            using var handler = new StubHandler(_ => text);
            using var api = new TrainGuardApiClient(new Uri("http://stub/"), "t", handler: handler);
            var ledger = new LedgerConnection(api) { PinnedKey = signer.Verifier };
            try
            {
                var record = await CheckpointLedger.FetchAsync(ledger, id);
                // Accepted only when the mutation missed every proven byte (e.g. the unproven tree_size or id members).
                Assert.True(record is null || record.ProofProblem is not null || record.EventJson == original,
                    $"accepted a mangled event: {Convert.ToHexString(mutated)}");
            }
            catch (MalformedInputException)
            {
                // A mangled answer is malformed input, named as the ledger's answer.
            }
            catch (Exception ex)
            {
                Assert.Fail($"{ex.GetType().Name} escaped for answer {Convert.ToHexString(mutated)}: {ex.Message}");
            }
        }

        signer.Dispose();
    }

    [Fact]
    public async Task An_event_swapped_for_another_with_the_same_id_fails_the_proof()
    {
        var (body, signer, id) = ProvenAnswer();
        var forged = body.Replace("\"alice\"", "\"bob\"", StringComparison.Ordinal);
        using var handler = new StubHandler(_ => forged);
        using var api = new TrainGuardApiClient(new Uri("http://stub/"), "t", handler: handler);
        var ledger = new LedgerConnection(api) { PinnedKey = signer.Verifier };

        var record = await CheckpointLedger.FetchAsync(ledger, id);

        Assert.NotNull(record?.ProofProblem);
        signer.Dispose();
    }

    private sealed class StubHandler(Func<HttpRequestMessage, string> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer(request), Encoding.UTF8, "application/json") });
    }
}
