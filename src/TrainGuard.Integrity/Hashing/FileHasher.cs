using System.Buffers;
using System.Security.Cryptography;

namespace TrainGuard.Integrity.Hashing;

/// <summary>The digest algorithms that installed-file records use.</summary>
public enum DigestAlgorithm
{
    Sha256,
    Sha384,
    Sha512,

    /// <summary>Only for dpkg <c>md5sums</c>, which record MD5 by format.</summary>
    Md5,
}

/// <summary>A file's digest and the number of bytes hashed.</summary>
public readonly record struct FileDigest(byte[] Digest, long Size)
{
    public string Hex => Convert.ToHexStringLower(Digest);
}

/// <summary>
/// Streaming file hashing: small files are read once into a pooled buffer and hashed in one call, large
/// files are hashed in 1 MiB chunks. Nothing is allocated per chunk; callers parallelise across files.
/// </summary>
public static class FileHasher
{
    public const int ChunkSize = 1 << 20;

    public static string WireName(this DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => "sha256",
        DigestAlgorithm.Sha384 => "sha384",
        DigestAlgorithm.Sha512 => "sha512",
        _ => "md5",
    };

    public static int DigestLength(this DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => 32,
        DigestAlgorithm.Sha384 => 48,
        DigestAlgorithm.Sha512 => 64,
        _ => 16,
    };

    /// <summary>Hashes a file (following symlinks). Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> when it cannot be read.</summary>
    public static FileDigest Compute(string path, DigestAlgorithm algorithm)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            // Linux fast path: open/pread/close and nothing else (SafeFileHandle adds fstat, flock, unlock and
            // fadvise per file, which is most of the cost for a site-packages of small files). Any failure
            // falls back to the managed path, which reproduces the exact exception.
            if (NativeFile.TryCompute(path, algorithm, buffer) is { } fast)
            {
                return fast;
            }

            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            var length = RandomAccess.GetLength(handle);
            if (length < ChunkSize)
            {
                // Common case: one read, one-shot hash. A file that grew since fstat falls through to streaming.
                var filled = ReadFully(handle, buffer.AsSpan(0, ChunkSize), 0);
                if (filled < ChunkSize)
                {
                    return new FileDigest(HashOneShot(algorithm, buffer.AsSpan(0, filled)), filled);
                }

                return Stream(handle, algorithm, buffer, filled);
            }

            return Stream(handle, algorithm, buffer, 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hashes bytes already in memory.</summary>
    public static byte[] HashOneShot(DigestAlgorithm algorithm, ReadOnlySpan<byte> data) => algorithm switch
    {
        DigestAlgorithm.Sha256 => SHA256.HashData(data),
        DigestAlgorithm.Sha384 => SHA384.HashData(data),
        DigestAlgorithm.Sha512 => SHA512.HashData(data),
#pragma warning disable CA5351 // dpkg md5sums are MD5 by format; we only compare against Debian's recorded values.
        _ => MD5.HashData(data),
#pragma warning restore CA5351
    };

    internal static IncrementalHash CreateIncremental(DigestAlgorithm algorithm) => IncrementalHash.CreateHash(algorithm switch
    {
        DigestAlgorithm.Sha256 => HashAlgorithmName.SHA256,
        DigestAlgorithm.Sha384 => HashAlgorithmName.SHA384,
        DigestAlgorithm.Sha512 => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.MD5,
    });

    private static FileDigest Stream(Microsoft.Win32.SafeHandles.SafeFileHandle handle, DigestAlgorithm algorithm, byte[] buffer, int alreadyRead)
    {
        using var hash = CreateIncremental(algorithm);
        long total = alreadyRead;
        if (alreadyRead > 0)
        {
            hash.AppendData(buffer, 0, alreadyRead);
        }

        while (true)
        {
            var read = RandomAccess.Read(handle, buffer.AsSpan(0, ChunkSize), total);
            if (read == 0)
            {
                break;
            }

            hash.AppendData(buffer, 0, read);
            total = checked(total + read);
        }

        return new FileDigest(hash.GetHashAndReset(), total);
    }

    private static int ReadFully(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = RandomAccess.Read(handle, buffer[filled..], offset + filled);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled;
    }
}
