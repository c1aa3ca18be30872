using System.Numerics;

namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// Subtrees as defined by the Merkle Tree Certificates draft (draft-davidben-tls-merkle-tree-certs, §4):
/// a half-open leaf range <c>[start, end)</c> with <c>start &lt; end</c> and <c>start</c> a multiple of
/// <c>BIT_CEIL(end - start)</c>, i.e. a range whose hash is a node of the hash computation of every tree
/// that contains it.
/// </summary>
public static class Subtree
{
    /// <summary>True when <c>[start, end)</c> is a non-empty valid subtree.</summary>
    public static bool IsValid(ulong start, ulong end)
    {
        if (start >= end)
        {
            return false;
        }

        if (start == 0)
        {
            return true;
        }

        // start must have at least as many trailing zero bits as BIT_CEIL(end - start) has; testing bit
        // counts avoids computing BIT_CEIL, which overflows for lengths above 2^63.
        var width = 64 - BitOperations.LeadingZeroCount(end - start - 1);
        return BitOperations.TrailingZeroCount(start) >= width;
    }

    /// <summary>True when <c>[start, end)</c> is a non-empty valid subtree.</summary>
    public static bool IsValid(long start, long end) =>
        start >= 0 && end >= 0 && IsValid((ulong)start, (ulong)end);
}
