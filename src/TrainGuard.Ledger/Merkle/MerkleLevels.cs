using System.Runtime.CompilerServices;

namespace TrainGuard.Ledger.Merkle;

/// <summary>
/// In-memory store of every complete node of the tree, level by level (about 2 × 32 bytes per leaf).
/// One writer appends; any number of readers may read concurrently: a reader only ever sees nodes below
/// the published <see cref="Size"/>, which is advanced after all the nodes it covers are written.
/// </summary>
public sealed class MerkleLevels : IMerkleNodeSource
{
    /// <summary>Levels 0..62 cover every tree size representable as a non-negative <see cref="long"/>.</summary>
    private const int MaxLevels = 63;

    private readonly HashLevel?[] _levels = new HashLevel?[MaxLevels];
    private long _size;

    public MerkleLevels()
    {
        _levels[0] = new HashLevel();
    }

    /// <inheritdoc />
    public long Size => Volatile.Read(ref _size);

    /// <summary>Appends one leaf hash and every interior node it completes.</summary>
    public void AppendLeafHash(ReadOnlySpan<byte> leafHash)
    {
        if (leafHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException("a leaf hash is 32 bytes", nameof(leafHash));
        }

        AppendUnpublished(leafHash);
        Volatile.Write(ref _size, _size + 1);
    }

    /// <summary>Appends consecutive 32-byte leaf hashes and publishes the new size once at the end.</summary>
    public void AppendLeafHashes(ReadOnlySpan<byte> concatenatedLeafHashes)
    {
        if (concatenatedLeafHashes.Length % MerkleHash.Size != 0)
        {
            throw new ArgumentException("leaf hashes are concatenated 32-byte values", nameof(concatenatedLeafHashes));
        }

        var count = concatenatedLeafHashes.Length / MerkleHash.Size;
        for (var i = 0; i < count; i++)
        {
            AppendUnpublished(concatenatedLeafHashes.Slice(i * MerkleHash.Size, MerkleHash.Size));
        }

        Volatile.Write(ref _size, _size + count);
    }

    /// <summary>Hashes an entry as a leaf and appends it.</summary>
    public void AppendEntry(ReadOnlySpan<byte> entry)
    {
        Span<byte> leaf = stackalloc byte[MerkleHash.Size];
        MerkleHash.HashLeaf(entry, leaf);
        AppendLeafHash(leaf);
    }

    /// <inheritdoc />
    public void CopyNode(int level, long index, Span<byte> destination)
    {
        if ((uint)level >= MaxLevels || index < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(level), $"node ({level}, {index}) does not exist");
        }

        var hashes = _levels[level];
        if (hashes is null || index >= hashes.Count || ((index + 1) << level) > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"node ({level}, {index}) is not complete in a tree of size {Size}");
        }

        hashes.Get(index).CopyTo(destination);
    }

    private void AppendUnpublished(ReadOnlySpan<byte> leafHash)
    {
        var index = _levels[0]!.Append(leafHash);
        Span<byte> node = stackalloc byte[MerkleHash.Size];
        leafHash.CopyTo(node);
        var level = 0;

        // The node just written is a right child exactly when its index is odd: combine with its left sibling.
        while ((index & 1) == 1)
        {
            MerkleHash.HashChildren(_levels[level]!.Get(index - 1), node, node);
            level++;
            var parent = _levels[level] ??= new HashLevel();
            index = parent.Append(node);
        }
    }

    /// <summary>A growable array of 32-byte hashes in fixed-size chunks (no huge contiguous allocations).</summary>
    private sealed class HashLevel
    {
        private const int ChunkShift = 15;
        private const int ChunkHashes = 1 << ChunkShift;
        private const int ChunkMask = ChunkHashes - 1;

        private byte[][] _chunks = new byte[4][];
        private long _count;

        public long Count => Volatile.Read(ref _count);

        public long Append(ReadOnlySpan<byte> hash)
        {
            var index = _count;
            var chunkIndex = checked((int)(index >> ChunkShift));
            var chunks = _chunks;
            if (chunkIndex == chunks.Length)
            {
                var grown = new byte[chunks.Length * 2][];
                Array.Copy(chunks, grown, chunks.Length);
                chunks = grown;
                Volatile.Write(ref _chunks, grown);
            }

            var chunk = chunks[chunkIndex] ??= new byte[ChunkHashes * MerkleHash.Size];
            hash.CopyTo(chunk.AsSpan((int)(index & ChunkMask) * MerkleHash.Size, MerkleHash.Size));
            Volatile.Write(ref _count, index + 1);
            return index;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ReadOnlySpan<byte> Get(long index)
        {
            var chunk = Volatile.Read(ref _chunks)[(int)(index >> ChunkShift)];
            return chunk.AsSpan((int)(index & ChunkMask) * MerkleHash.Size, MerkleHash.Size);
        }
    }
}
