using TrainGuard.Ledger.Merkle;

namespace TrainGuard.Ledger.Tests.Merkle;

/// <summary>The RFC 9162 §2.1 definitions written out recursively, as an independent oracle for the fast code.</summary>
public static class ReferenceTree
{
    public static byte[] Mth(IReadOnlyList<byte[]> leafHashes, int start, int end)
    {
        var n = end - start;
        if (n == 0)
        {
            return MerkleHash.EmptyRootCopy();
        }

        if (n == 1)
        {
            return leafHashes[start];
        }

        var k = LargestPowerOfTwoBelow(n);
        return MerkleHash.HashChildren(Mth(leafHashes, start, start + k), Mth(leafHashes, start + k, end));
    }

    public static List<byte[]> Path(IReadOnlyList<byte[]> leafHashes, int m, int start, int end)
    {
        var n = end - start;
        if (n == 1)
        {
            return [];
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m < k)
        {
            var path = Path(leafHashes, m, start, start + k);
            path.Add(Mth(leafHashes, start + k, end));
            return path;
        }
        else
        {
            var path = Path(leafHashes, m - k, start + k, end);
            path.Add(Mth(leafHashes, start, start + k));
            return path;
        }
    }

    public static List<byte[]> Proof(IReadOnlyList<byte[]> leafHashes, int m, int n) => SubProof(leafHashes, m, 0, n, true);

    private static List<byte[]> SubProof(IReadOnlyList<byte[]> leafHashes, int m, int start, int end, bool b)
    {
        var n = end - start;
        if (m == n)
        {
            return b ? [] : [Mth(leafHashes, start, end)];
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m <= k)
        {
            var proof = SubProof(leafHashes, m, start, start + k, b);
            proof.Add(Mth(leafHashes, start + k, end));
            return proof;
        }
        else
        {
            var proof = SubProof(leafHashes, m - k, start + k, end, false);
            proof.Add(Mth(leafHashes, start, start + k));
            return proof;
        }
    }

    public static int LargestPowerOfTwoBelow(int n)
    {
        var k = 1;
        while (k * 2 < n)
        {
            k *= 2;
        }

        return k;
    }
}
