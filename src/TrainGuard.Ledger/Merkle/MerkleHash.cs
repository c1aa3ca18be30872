using System.Security.Cryptography;

namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// RFC 9162 §2.1.1 hashing with SHA-256: leaves are <c>SHA-256(0x00 || entry)</c>, interior nodes
/// <c>SHA-256(0x01 || left || right)</c>, the empty tree is <c>SHA-256("")</c>.
/// </summary>
public static class MerkleHash
{
    /// <summary>Size in bytes of every hash in the tree.</summary>
    public const int Size = 32;

    private const byte LeafPrefix = 0x00;
    private const byte NodePrefix = 0x01;

    /// <summary>Stack buffers above this size are rented instead.</summary>
    private const int StackLimit = 1024;

    private static readonly byte[] EmptyRootBytes = SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>The root hash of the empty tree, <c>SHA-256("")</c>.</summary>
    public static ReadOnlySpan<byte> EmptyRoot => EmptyRootBytes;

    /// <summary>Returns a fresh copy of the empty-tree root.</summary>
    public static byte[] EmptyRootCopy() => (byte[])EmptyRootBytes.Clone();

    /// <summary>Computes the leaf hash of <paramref name="entry"/> into <paramref name="destination"/>.</summary>
    public static void HashLeaf(ReadOnlySpan<byte> entry, Span<byte> destination)
    {
        if (entry.Length < StackLimit)
        {
            Span<byte> buffer = stackalloc byte[entry.Length + 1];
            buffer[0] = LeafPrefix;
            entry.CopyTo(buffer[1..]);
            SHA256.HashData(buffer, destination);
            return;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ReadOnlySpan<byte> prefix = [LeafPrefix];
        hash.AppendData(prefix);
        hash.AppendData(entry);
        if (!hash.TryGetHashAndReset(destination, out var written) || written != Size)
        {
            throw new ArgumentException("destination must hold 32 bytes", nameof(destination));
        }
    }

    /// <summary>Computes the leaf hash of <paramref name="entry"/>.</summary>
    public static byte[] HashLeaf(ReadOnlySpan<byte> entry)
    {
        var result = new byte[Size];
        HashLeaf(entry, result);
        return result;
    }

    /// <summary>Computes <c>SHA-256(0x01 || left || right)</c> into <paramref name="destination"/> (which may alias an input).</summary>
    public static void HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        Span<byte> buffer = stackalloc byte[1 + Size + Size];
        buffer[0] = NodePrefix;
        left.CopyTo(buffer.Slice(1, Size));
        right.CopyTo(buffer.Slice(1 + Size, Size));
        SHA256.HashData(buffer, destination);
    }

    /// <summary>Computes <c>SHA-256(0x01 || left || right)</c>.</summary>
    public static byte[] HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        var result = new byte[Size];
        HashChildren(left, right, result);
        return result;
    }

    /// <summary>Compares two hashes in time independent of where they differ.</summary>
    public static bool FixedTimeEquals(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right) =>
        CryptographicOperations.FixedTimeEquals(left, right);
}
