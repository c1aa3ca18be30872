using System.Text;
using TrainGuard.Integrity.Environments;
using TrainGuard.Integrity.Hashing;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Parsing;

namespace TrainGuard.Integrity.Tests;

public sealed class ParserTests
{
    private const string EmptySha256 = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    [Fact]
    public void Record_parses_hashes_sizes_quoted_paths_and_unhashed_lines()
    {
        var record = RecordFile.Parse(Encoding.UTF8.GetBytes($"pkg/__init__.py,sha256={EmptySha256},0\r\n\"pkg/a,b.py\",sha256={EmptySha256},0\npkg-1.0.dist-info/RECORD,,\n\n"));
        Assert.Empty(record.Problems);
        Assert.Equal(3, record.Entries.Count);
        Assert.Equal("pkg/a,b.py", record.Entries[1].Path);
        Assert.Equal(DigestAlgorithm.Sha256, record.Entries[0].Algorithm);
        Assert.Equal(32, record.Entries[0].Digest!.Length);
        Assert.Null(record.Entries[2].Digest);
    }

    [Theory]
    [InlineData("pkg/a.py,sha256=AAAA,1", "digest")]
    [InlineData("pkg/a.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0", "not allowed")]
    [InlineData("pkg/a.py,sha256=" + EmptySha256 + ",ten", "non-negative integer")]
    [InlineData("pkg/a.py,sha256=" + EmptySha256, "3 comma-separated")]
    [InlineData("pkg/a.py,sha256=" + EmptySha256 + ",", "without a size")]
    [InlineData("\"pkg/a.py,sha256=x,1", "unterminated")]
    public void Record_reports_malformed_lines_with_a_reason(string line, string reason)
    {
        var record = RecordFile.Parse(Encoding.UTF8.GetBytes(line + "\n"));
        var problem = Assert.Single(record.Problems);
        Assert.Contains(reason, problem.Reason, StringComparison.Ordinal);
        Assert.Equal(1, problem.Line);
    }

    [Fact]
    public void Record_accepts_hex_digests_written_by_debian_tooling()
    {
        var record = RecordFile.Parse(Encoding.UTF8.GetBytes("pkg/METADATA,sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,0\n"));
        Assert.Empty(record.Problems);
        Assert.Equal(Convert.FromBase64String("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), record.Entries[0].Digest);
    }

    [Fact]
    public void Record_reports_a_duplicate_path()
    {
        var record = RecordFile.Parse(Encoding.UTF8.GetBytes($"a.py,sha256={EmptySha256},0\na.py,sha256={EmptySha256},0\n"));
        Assert.Contains("duplicate", Assert.Single(record.Problems).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Md5sums_parses_debian_lines_and_reports_bad_ones()
    {
        var parsed = DpkgMd5Sums.Parse("python3-torch", Encoding.UTF8.GetBytes("d41d8cd98f00b204e9800998ecf8427e  usr/lib/python3/dist-packages/torch/__init__.py\nnot-a-hash  x\n"));
        var entry = Assert.Single(parsed.Entries);
        Assert.Equal("/usr/lib/python3/dist-packages/torch/__init__.py", entry.Path);
        Assert.Equal(2, Assert.Single(parsed.Problems).Line);
    }

    [Fact]
    public void Pyc_header_reads_timestamp_and_hash_based_forms()
    {
        var header = new byte[16];
        header[0] = 0xa7; header[1] = 0x0d; header[2] = (byte)'\r'; header[3] = (byte)'\n';
        header[8] = 0x10; header[12] = 0x20;
        var parsed = PycHeader.Parse(header);
        Assert.Equal(3495, parsed.Magic);
        Assert.Equal(PycInvalidation.Timestamp, parsed.Invalidation);
        Assert.Equal(0x10u, parsed.SourceMtime);
        Assert.Equal(0x20u, parsed.SourceSize);
        Assert.Equal(11, PycHeader.MinorVersionForMagic(parsed.Magic));
        header[4] = 1;
        Assert.Equal(PycInvalidation.UncheckedHash, PycHeader.Parse(header).Invalidation);
        header[4] = 4;
        Assert.Throws<MalformedInputException>(() => PycHeader.Parse(header));
        Assert.Throws<MalformedInputException>(() => PycHeader.Parse(header.AsSpan(0, 10)));
    }

    [Fact]
    public async Task Source_hash_matches_cpython_checked_hash_pyc()
    {
        var dir = TestSupport.NewTempDirectory("pyc");
        try
        {
            var source = Path.Combine(dir, "mod.py");
            await File.WriteAllTextAsync(source, "def f():\n    return 'checked hash pyc'\n");
            var pyc = Path.Combine(dir, "mod.pyc");
            await TestSupport.RunAsync(TestSupport.SystemPython, "-I", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)", source, pyc);
            var header = PycHeader.Parse(await File.ReadAllBytesAsync(pyc));
            Assert.Equal(PycInvalidation.CheckedHash, header.Invalidation);
            Assert.Equal(header.SourceHash, PycHeader.ComputeSourceHash(header.RawMagic, await File.ReadAllBytesAsync(source)));
        }
        finally
        {
            TestSupport.DeleteQuietly(dir);
        }
    }

    public static TheoryData<string> FuzzTargets => new() { "record", "md5sums", "pyc", "statement", "startup-hooks" };

    [Theory]
    [MemberData(nameof(FuzzTargets))]
    public void Fuzz_targets_throw_only_malformed_input_on_random_and_mutated_inputs(string target)
    {
        FuzzHarness.Target fuzz = target switch
        {
            "record" => RecordFile.Fuzz,
            "md5sums" => DpkgMd5Sums.Fuzz,
            "pyc" => PycHeader.Fuzz,
            "startup-hooks" => StartupHooks.Fuzz,
            _ => SigstoreBundle.Fuzz,
        };
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes($"pkg/a.py,sha256={EmptySha256},0\n\"q,\"\"x\",,\npkg/b.py,sha512=AAAA,12\n"),
            Encoding.UTF8.GetBytes("d41d8cd98f00b204e9800998ecf8427e  usr/lib/x.py\nd41d8cd98f00b204e9800998ecf8427e *usr/lib/y.py\n"),
            [0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xe3],
            Encoding.UTF8.GetBytes("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"m\",\"digest\":{\"sha256\":\"" + new string('0', 64) + "\"}}],\"predicateType\":\"https://model_signing/signature/v1.0\",\"predicate\":{\"serialization\":{\"method\":\"files\",\"hash_type\":\"sha256\",\"allow_symlinks\":false},\"resources\":[{\"name\":\"a\",\"algorithm\":\"sha256\",\"digest\":\"" + new string('1', 64) + "\"}]}}"),
            Encoding.UTF8.GetBytes("distutils-precedence.pth\nimport os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n"),
            Encoding.UTF8.GetBytes("__editable__.pkg-1.0.pth\n\uFEFF# comment\n/opt/src\nimport __editable___pkg_1_0_finder; __editable___pkg_1_0_finder.install('/opt/src')\r\nimport\tos;os.system('id')\n"),
            Encoding.UTF8.GetBytes("pkg.start\n# entry points\npkg.mod:main\n\n  other:run  \n"),
            Encoding.UTF8.GetBytes("sitecustomize.py\nimport os\nos.environ['X'] = '1'\n"),
        ];
        FuzzHarness.Run(fuzz, seeds, 3000, 20240611, ",\"\n\r =;:#()'.\t"u8.ToArray(), maxLength: 64);
    }
}
