using System.Security.Cryptography;
using System.Text;
using TrainGuard.Integrity.Environments;
using TrainGuard.Integrity.Hashing;

namespace TrainGuard.Integrity.Tests;

/// <summary>The shortcuts taken for speed give exactly what the general code gives.</summary>
public sealed class FastPathTests
{
    private const string EmptySha256 = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    [Fact]
    public void Record_lines_without_quotes_parse_exactly_as_through_the_csv_splitter()
    {
        string[] pieces = ["pkg", "/", ",", "a.py", "sha256=", "sha512=", "md5=", EmptySha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "0", "12", "-1", " ", "=", "\\", "\0", "..", "é", "1e3", "+5", "99999999999999999999", "AAAA", "sha256", ",,"];
        var random = new Random(20240611);
        for (var n = 0; n < 20_000; n++)
        {
            var builder = new StringBuilder();
            var count = random.Next(1, 12);
            for (var i = 0; i < count; i++)
            {
                builder.Append(pieces[random.Next(pieces.Length)]);
            }

            var line = builder.ToString();
            var fast = RecordFile.TryParseLine(line, 7, out var fastEntry, out var fastReason);
            var general = RecordFile.TryParseLineWithCsvSplitter(line, 7, out var generalEntry, out var generalReason);
            Assert.True(fast == general, $"accepted differs for {Escape(line)}");
            Assert.True(fastReason == generalReason, $"reason differs for {Escape(line)}: '{fastReason}' vs '{generalReason}'");
            if (fast)
            {
                Assert.Equal(generalEntry.Path, fastEntry.Path);
                Assert.Equal(generalEntry.Algorithm, fastEntry.Algorithm);
                Assert.Equal(generalEntry.Digest, fastEntry.Digest);
                Assert.Equal(generalEntry.Size, fastEntry.Size);
                Assert.Equal(generalEntry.Line, fastEntry.Line);
            }
        }
    }

    [Fact]
    public void Record_line_with_too_many_fields_gives_the_same_reason_on_both_paths()
    {
        var line = string.Join(',', Enumerable.Repeat("a", 20));
        Assert.False(RecordFile.TryParseLine(line, 1, out _, out var reason));
        Assert.Equal("too many fields", reason);
        Assert.False(RecordFile.TryParseLine(line.AsSpan(0, (16 * 2) - 1), 1, out _, out reason));
        Assert.Equal("expected 3 comma-separated fields (path,hash,size), found 16", reason);
    }

    [Fact]
    public void Plain_relative_record_paths_join_to_what_GetFullPath_gives()
    {
        string[] pieces = ["a", "b.py", ".", "..", "/", "//", ".x", "x.", "...", "__pycache__"];
        var random = new Random(7);
        var plain = 0;
        for (var n = 0; n < 20_000; n++)
        {
            var path = string.Concat(Enumerable.Range(0, random.Next(1, 7)).Select(_ => pieces[random.Next(pieces.Length)]));
            if (!Inventory.IsPlainRelative(path))
            {
                continue;
            }

            plain++;
            Assert.Equal(Path.GetFullPath(Path.Combine("/site/lib/python3.12/site-packages", path)), "/site/lib/python3.12/site-packages/" + path);
        }

        Assert.True(plain > 1000);
        Assert.False(Inventory.IsPlainRelative("a/../../etc/passwd"));
        Assert.False(Inventory.IsPlainRelative("a/./b"));
        Assert.False(Inventory.IsPlainRelative("a//b"));
        Assert.False(Inventory.IsPlainRelative("a/"));
        Assert.False(Inventory.IsPlainRelative("/etc/passwd"));
        Assert.True(Inventory.IsPlainRelative("..a/b.../.c"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(FileHasher.ChunkSize - 1)]
    [InlineData(FileHasher.ChunkSize)]
    [InlineData(FileHasher.ChunkSize + 1)]
    [InlineData(3 * FileHasher.ChunkSize + 17)]
    public void File_hashes_match_the_in_memory_digests_at_every_size_boundary(int size)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tg-hash-{Guid.NewGuid():N}");
        var data = new byte[size];
        new Random(size).NextBytes(data);
        File.WriteAllBytes(path, data);
        try
        {
            foreach (var algorithm in Enum.GetValues<DigestAlgorithm>())
            {
                var digest = FileHasher.Compute(path, algorithm);
                Assert.Equal(size, digest.Size);
                Assert.Equal(FileHasher.HashOneShot(algorithm, data), digest.Digest);
            }

            Assert.Equal(SHA256.HashData(data), FileHasher.Compute(path, DigestAlgorithm.Sha256).Digest);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Hashing_a_missing_file_or_a_directory_throws_what_opening_it_throws()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"tg-missing-{Guid.NewGuid():N}", "a.py");
        Assert.Throws<DirectoryNotFoundException>(() => FileHasher.Compute(missing, DigestAlgorithm.Sha256));
        Assert.Throws<FileNotFoundException>(() => FileHasher.Compute(Path.Combine(Path.GetTempPath(), $"tg-missing-{Guid.NewGuid():N}"), DigestAlgorithm.Sha256));
        var directory = Directory.CreateTempSubdirectory("tg-dir-").FullName;
        try
        {
            var expected = Record.Exception(() => File.OpenHandle(directory).Dispose());
            var actual = Record.Exception(() => FileHasher.Compute(directory, DigestAlgorithm.Sha256));
            Assert.NotNull(expected);
            Assert.Equal(expected.GetType(), actual?.GetType());
            Assert.Equal(expected.Message, actual!.Message);
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    public void Ordered_parallel_rethrows_the_first_failing_index_unwrapped()
    {
        var ran = new int[50];
        var thrown = Assert.Throws<InvalidDataException>(() => OrderedParallel.For(50, i =>
        {
            ran[i] = 1;
            if (i is 13 or 40)
            {
                throw new InvalidDataException($"item {i}");
            }
        }));
        Assert.Equal("item 13", thrown.Message);
        Assert.Equal(50, ran.Sum());
    }

    [Fact]
    public void Package_names_normalise_as_the_pep503_regex_does()
    {
        const string Alphabet = "aZ9-_.é ";
        var random = new Random(503);
        for (var n = 0; n < 5_000; n++)
        {
            var name = new string(Enumerable.Range(0, random.Next(0, 12)).Select(_ => Alphabet[random.Next(Alphabet.Length)]).ToArray());
            var expected = System.Text.RegularExpressions.Regex.Replace(name, "[-_.]+", "-").ToLowerInvariant();
            Assert.Equal(expected, Inventory.NormalizeName(name));
        }

        Assert.Equal("python3-torch", Inventory.NormalizeName("Python3__Torch"));
    }

    [Fact]
    public void Reading_a_pyc_header_natively_gives_the_bytes_a_managed_read_gives()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tg-pyc-{Guid.NewGuid():N}.pyc");
        File.WriteAllBytes(path, [0xcb, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
        try
        {
            Span<byte> native = stackalloc byte[PycHeader.Size];
            var read = NativeFile.TryReadAt(path, native, 0);
            Assert.True(read == PycHeader.Size || read == -1);
            if (read > 0)
            {
                Assert.Equal(File.ReadAllBytes(path)[..PycHeader.Size], native.ToArray());
            }

            Assert.Equal(-1, NativeFile.TryReadAt(path + ".missing", native, 0));
            Assert.Equal(-1, NativeFile.TryReadAt(Path.GetTempPath(), native, 0));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(64 << 10)]
    [InlineData((64 << 10) + 1)]
    [InlineData(300_000)]
    public void Reading_a_whole_file_into_a_pooled_buffer_gives_its_bytes(int size)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tg-read-{Guid.NewGuid():N}");
        var data = new byte[size];
        new Random(size).NextBytes(data);
        File.WriteAllBytes(path, data);
        try
        {
            if (NativeFile.TryReadAllPooled(path, 1 << 30, out var rented, out var length))
            {
                Assert.Equal(data, rented.AsSpan(0, length).ToArray());
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }

            if (size > 64 << 10)
            {
                Assert.False(NativeFile.TryReadAllPooled(path, 64 << 10, out _, out _)); // larger than allowed: the managed path reads it
            }

            Assert.False(NativeFile.TryReadAllPooled(path + ".missing", 1 << 30, out _, out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Escape(string text) => string.Concat(text.Select(c => c < 32 || c > 126 ? $"\\u{(int)c:x4}" : c.ToString()));
}
