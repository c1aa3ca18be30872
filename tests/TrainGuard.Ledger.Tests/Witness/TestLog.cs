using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;

namespace TrainGuard.Ledger.Tests.Witness;

/// <summary>An in-memory log: entries, its Merkle tree, a signing key, signed heads and consistency proofs.</summary>
internal sealed class TestLog : IDisposable
{
    private readonly MerkleLevels _levels = new();

    public TestLog(string origin = "test.example/log", NoteSigner? key = null)
    {
        Origin = origin;
        Key = key ?? NoteSigner.Generate(origin);
        Tree = new MerkleTree(_levels);
    }

    public string Origin { get; }

    public NoteSigner Key { get; }

    public MerkleTree Tree { get; }

    public int ProofRequests { get; private set; }

    /// <summary>Appends <paramref name="count"/> entries named <c>{prefix}-{n}</c>.</summary>
    public TestLog Append(int count, string prefix = "entry")
    {
        for (var i = 0; i < count; i++)
        {
            _levels.AppendEntry(Encoding.UTF8.GetBytes($"{prefix}-{_levels.Size}"));
        }

        return this;
    }

    /// <summary>The signed head at the current size (or at <paramref name="size"/>).</summary>
    public string Head(long? size = null)
    {
        var at = size ?? _levels.Size;
        return new TreeHead(Origin, at, Tree.RootHash(at)).Sign(Key);
    }

    public ConsistencyProofSource Proofs => (from, to, _) =>
    {
        ProofRequests++;
        return Task.FromResult(Tree.ConsistencyProof(from, to));
    };

    public void Dispose() => Key.Dispose();
}
