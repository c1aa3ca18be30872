using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Server.Tests.Support;

/// <summary>Checks on the tree heads a server handed out against the tree it holds now.</summary>
public static class TreeHeadChecks
{
    /// <summary>
    /// Every note of <paramref name="notes"/> is signed by <paramref name="verifier"/> and a prefix of the tree
    /// <paramref name="current"/>: the same root at the same size, else a consistency proof from the server verifies.
    /// </summary>
    public static async Task AssertPrefixesAsync(HttpClient http, NoteVerifier verifier, IEnumerable<string> notes, TreeHead current)
    {
        var size = current.Size;
        foreach (var note in notes.Distinct())
        {
            var old = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [verifier]);
            Assert.True(old.Verification.IsVerified);
            Assert.True(old.TreeHead.Size <= size, $"a checkpoint of size {old.TreeHead.Size} was handed out but the tree has {size} leaves");
            if (old.TreeHead.Size == 0)
            {
                continue;
            }

            if (old.TreeHead.Size == size)
            {
                Assert.Equal(old.TreeHead.RootHash.ToArray(), current.RootHash.ToArray());
                continue;
            }

            var proof = JsonNode.Parse(await http.GetStringAsync($"api/v1/proof/consistency?from={old.TreeHead.Size}&to={size}"))!["proof"]!
                .AsArray().Select(p => Convert.FromBase64String((string)p!)).ToList();
            Assert.True(
                MerkleTree.VerifyConsistency((ulong)old.TreeHead.Size, (ulong)size, proof, old.TreeHead.RootHash, current.RootHash),
                $"the tree of size {size} does not extend the checkpoint of size {old.TreeHead.Size}");
        }
    }
}
