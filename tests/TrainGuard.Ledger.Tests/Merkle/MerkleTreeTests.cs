using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Tests.Merkle;

/// <summary>
/// Brute-force cross-check of the fast tree against the recursive RFC definitions, for random sizes up to
/// 300: every root, inclusion and consistency proof matches the reference and verifies, and flipping any
/// single bit of any proof hash makes verification fail.
/// </summary>
public class MerkleTreeTests
{
    private const int MaxSize = 300;

    private static readonly Lazy<(MerkleLevels Levels, List<byte[]> Leaves)> Shared = new(() => Build(MaxSize));

    [Fact]
    public void Root_at_every_size_matches_the_recursive_definition()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        for (var size = 0; size <= MaxSize; size++)
        {
            Assert.Equal(ReferenceTree.Mth(leaves, 0, size), tree.RootHash(size));
        }
    }

    [Fact]
    public void Empty_tree_root_is_sha256_of_nothing()
    {
        var tree = new MerkleTree(new MerkleLevels());
        Assert.Equal(Convert.FromHexString("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), tree.RootHash(0));
    }

    [Fact]
    public void Every_inclusion_proof_at_random_sizes_matches_the_reference_and_verifies()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        var random = new Random(9162);
        foreach (var size in RandomSizes(random))
        {
            var root = tree.RootHash(size);
            for (var index = 0; index < size; index++)
            {
                var proof = tree.InclusionProof(index, size);
                Assert.Equal(ReferenceTree.Path(leaves, index, 0, size), proof);
                Assert.True(MerkleTree.VerifyInclusion(leaves[index], (ulong)index, (ulong)size, proof, root), $"index {index} size {size}");
            }
        }
    }

    [Fact]
    public void Every_consistency_proof_at_random_sizes_matches_the_reference_and_verifies()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        var random = new Random(6962);
        foreach (var size2 in RandomSizes(random))
        {
            var root2 = tree.RootHash(size2);
            for (var size1 = 1; size1 <= size2; size1++)
            {
                var proof = tree.ConsistencyProof(size1, size2);
                Assert.Equal(ReferenceTree.Proof(leaves, size1, size2), proof);
                Assert.True(MerkleTree.VerifyConsistency((ulong)size1, (ulong)size2, proof, tree.RootHash(size1), root2), $"{size1} -> {size2}");
            }
        }
    }

    [Fact]
    public void Any_bit_flip_in_an_inclusion_proof_fails_verification()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        var random = new Random(1);
        for (var trial = 0; trial < 40; trial++)
        {
            var size = random.Next(2, MaxSize + 1);
            var index = random.Next(size);
            var root = tree.RootHash(size);
            var proof = tree.InclusionProof(index, size);
            ForEveryBitFlip(proof, flipped =>
                Assert.False(MerkleTree.VerifyInclusion(leaves[index], (ulong)index, (ulong)size, flipped, root), $"index {index} size {size}"));

            // Wrong index, wrong leaf, dropped or extra hash.
            Assert.False(MerkleTree.VerifyInclusion(leaves[(index + 1) % size], (ulong)index, (ulong)size, proof, root));
            if (proof.Length > 0)
            {
                Assert.False(MerkleTree.VerifyInclusion(leaves[index], (ulong)index, (ulong)size, proof[..^1], root));
            }

            Assert.False(MerkleTree.VerifyInclusion(leaves[index], (ulong)index, (ulong)size, [.. proof, root], root));
        }
    }

    [Fact]
    public void Any_bit_flip_in_a_consistency_proof_fails_verification()
    {
        var (levels, _) = Shared.Value;
        var tree = new MerkleTree(levels);
        var random = new Random(2);
        for (var trial = 0; trial < 40; trial++)
        {
            var size2 = random.Next(2, MaxSize + 1);
            var size1 = random.Next(1, size2);
            var root1 = tree.RootHash(size1);
            var root2 = tree.RootHash(size2);
            var proof = tree.ConsistencyProof(size1, size2);
            ForEveryBitFlip(proof, flipped =>
                Assert.False(MerkleTree.VerifyConsistency((ulong)size1, (ulong)size2, flipped, root1, root2), $"{size1} -> {size2}"));
            Assert.False(MerkleTree.VerifyConsistency((ulong)size1, (ulong)size2, proof[..^1], root1, root2));
            Assert.False(MerkleTree.VerifyConsistency((ulong)size1, (ulong)size2, proof, root2, root1));
        }
    }

    [Fact]
    public void Every_subtree_proof_for_every_valid_subtree_of_small_trees_verifies()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        for (var size = 1; size <= 40; size++)
        {
            var root = tree.RootHash(size);
            for (var start = 0; start < size; start++)
            {
                for (var end = start + 1; end <= size; end++)
                {
                    if (!Subtree.IsValid(start, end))
                    {
                        continue;
                    }

                    var subtreeHash = tree.SubtreeHash(start, end);
                    Assert.Equal(ReferenceTree.Mth(leaves, start, end), subtreeHash);
                    var consistency = tree.SubtreeConsistencyProof(start, end, size);
                    Assert.True(MerkleTree.VerifySubtreeConsistency((ulong)start, (ulong)end, (ulong)size, consistency, subtreeHash, root), $"[{start}, {end}) in {size}");
                    ForEveryBitFlip(consistency, flipped =>
                        Assert.False(MerkleTree.VerifySubtreeConsistency((ulong)start, (ulong)end, (ulong)size, flipped, subtreeHash, root)));

                    for (var index = start; index < end; index++)
                    {
                        var inclusion = tree.SubtreeInclusionProof(index, start, end);
                        Assert.True(MerkleTree.VerifySubtreeInclusion(leaves[index], (ulong)index, (ulong)start, (ulong)end, inclusion, subtreeHash));
                    }
                }
            }
        }
    }

    [Fact]
    public void Invalid_subtrees_and_sizes_are_refused_by_the_generator()
    {
        var (levels, _) = Shared.Value;
        var tree = new MerkleTree(levels);
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.SubtreeHash(2, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.RootHash(MaxSize + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(6, 5));
    }

    [Fact]
    public void Accumulator_root_matches_the_tree_root_at_every_size()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        var accumulator = new MerkleAccumulator();
        Assert.Equal(tree.RootHash(0), accumulator.Root());
        for (var i = 0; i < MaxSize; i++)
        {
            accumulator.Add(leaves[i]);
            Assert.Equal(tree.RootHash(i + 1), accumulator.Root());
        }
    }

    [Fact]
    public void Accumulator_seeded_from_a_tree_prefix_extends_it_to_the_root_of_every_larger_size()
    {
        var (levels, leaves) = Shared.Value;
        var tree = new MerkleTree(levels);
        foreach (var start in new[] { 0, 1, 2, 3, 7, 8, 100, 255, 256, 299 })
        {
            var accumulator = MerkleAccumulator.FromNodes(levels, start);
            Assert.Equal(tree.RootHash(start), accumulator.Root());
            for (var i = start; i < MaxSize; i++)
            {
                accumulator.Add(leaves[i]);
                Assert.Equal(tree.RootHash(i + 1), accumulator.Root());
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleAccumulator.FromNodes(levels, MaxSize + 1));
    }

    [Fact]
    public void Bulk_append_builds_the_same_nodes_as_single_appends()
    {
        var (levels, leaves) = Shared.Value;
        var bulk = new MerkleLevels();
        bulk.AppendLeafHashes(leaves.SelectMany(l => l).ToArray());
        Assert.Equal(levels.Size, bulk.Size);
        Assert.Equal(new MerkleTree(levels).RootHash(MaxSize), new MerkleTree(bulk).RootHash(MaxSize));
    }

    private static IEnumerable<int> RandomSizes(Random random)
    {
        yield return 1;
        yield return 2;
        yield return 255;
        yield return 256;
        yield return 257;
        yield return MaxSize;
        for (var i = 0; i < 14; i++)
        {
            yield return random.Next(1, MaxSize + 1);
        }
    }

    private static void ForEveryBitFlip(byte[][] proof, Action<byte[][]> check)
    {
        for (var node = 0; node < proof.Length; node++)
        {
            for (var bit = 0; bit < MerkleHash.Size * 8; bit++)
            {
                var flipped = proof.Select(p => (byte[])p.Clone()).ToArray();
                flipped[node][bit / 8] ^= (byte)(1 << (bit % 8));
                check(flipped);
            }
        }
    }

    private static (MerkleLevels, List<byte[]>) Build(int size)
    {
        var levels = new MerkleLevels();
        var leaves = new List<byte[]>(size);
        for (var i = 0; i < size; i++)
        {
            var leaf = MerkleHash.HashLeaf(EntryBytes(i));
            leaves.Add(leaf);
            levels.AppendLeafHash(leaf);
        }

        return (levels, leaves);
    }

    private static byte[] EntryBytes(int i) => System.Text.Encoding.ASCII.GetBytes($"entry {i}");
}
