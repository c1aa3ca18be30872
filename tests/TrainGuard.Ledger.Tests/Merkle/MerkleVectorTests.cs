using System.Text.Json;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Tests.Support;

namespace TrainGuard.Ledger.Tests.Merkle;

/// <summary>
/// The transparency-dev/merkle proof vectors (tests/fixtures/vectors/merkle): every vector marked <c>wantErr</c>
/// must be rejected, every other one accepted. One theory per directory; the case is the file's relative path.
/// </summary>
public class MerkleVectorTests
{
    public static TheoryData<string> InclusionVectors => VectorFiles("inclusion");

    public static TheoryData<string> ConsistencyVectors => VectorFiles("consistency");

    public static TheoryData<string> SubtreeInclusionVectors => VectorFiles("subtreeinclusion");

    public static TheoryData<string> SubtreeConsistencyVectors => VectorFiles("subtreeconsistency");

    [Theory]
    [MemberData(nameof(InclusionVectors))]
    public void Inclusion_vector_is_accepted_or_rejected_as_marked(string file)
    {
        using var vector = Load("inclusion", file);
        var v = vector.RootElement;
        var accepted = MerkleTree.VerifyInclusion(
            Hash(v, "leafHash"), v.GetProperty("leafIdx").GetUInt64(), v.GetProperty("treeSize").GetUInt64(), Proof(v), Hash(v, "root"));

        Assert.Equal(!WantError(v), accepted);
    }

    [Theory]
    [MemberData(nameof(ConsistencyVectors))]
    public void Consistency_vector_is_accepted_or_rejected_as_marked(string file)
    {
        using var vector = Load("consistency", file);
        var v = vector.RootElement;
        var accepted = MerkleTree.VerifyConsistency(
            v.GetProperty("size1").GetUInt64(), v.GetProperty("size2").GetUInt64(), Proof(v), Hash(v, "root1"), Hash(v, "root2"));

        Assert.Equal(!WantError(v), accepted);
    }

    [Theory]
    [MemberData(nameof(SubtreeInclusionVectors))]
    public void Subtree_inclusion_vector_is_accepted_or_rejected_as_marked(string file)
    {
        using var vector = Load("subtreeinclusion", file);
        var v = vector.RootElement;
        var accepted = MerkleTree.VerifySubtreeInclusion(
            Hash(v, "leafHash"),
            v.GetProperty("leafIdx").GetUInt64(),
            v.GetProperty("start").GetUInt64(),
            v.GetProperty("end").GetUInt64(),
            Proof(v),
            Hash(v, "root"));

        Assert.Equal(!WantError(v), accepted);
    }

    [Theory]
    [MemberData(nameof(SubtreeConsistencyVectors))]
    public void Subtree_consistency_vector_is_accepted_or_rejected_as_marked(string file)
    {
        using var vector = Load("subtreeconsistency", file);
        var v = vector.RootElement;
        var accepted = MerkleTree.VerifySubtreeConsistency(
            v.GetProperty("start").GetUInt64(),
            v.GetProperty("end").GetUInt64(),
            v.GetProperty("size").GetUInt64(),
            Proof(v),
            Hash(v, "root1"),
            Hash(v, "root2"));

        Assert.Equal(!WantError(v), accepted);
    }

    [Fact]
    public void Every_vector_directory_holds_both_good_and_bad_cases()
    {
        foreach (var directory in new[] { "inclusion", "consistency", "subtreeinclusion", "subtreeconsistency" })
        {
            var files = VectorPaths(directory);
            Assert.True(files.Count > 50, $"{directory}: only {files.Count} vectors found");
            var wanted = files.Select(f =>
            {
                using var doc = Load(directory, f);
                return WantError(doc.RootElement);
            }).ToList();
            Assert.Contains(true, wanted);
            Assert.Contains(false, wanted);
        }
    }

    private static TheoryData<string> VectorFiles(string directory)
    {
        var data = new TheoryData<string>();
        foreach (var file in VectorPaths(directory))
        {
            data.Add(file);
        }

        return data;
    }

    private static List<string> VectorPaths(string directory)
    {
        var root = Path.Combine(TestPaths.Vectors, "merkle", directory);
        return [.. Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(root, file).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)];
    }

    private static JsonDocument Load(string directory, string file) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.Vectors, "merkle", directory, file)));

    private static bool WantError(JsonElement v) => v.TryGetProperty("wantErr", out var e) && e.GetBoolean();

    private static byte[] Hash(JsonElement v, string name) =>
        v.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? Convert.FromBase64String(e.GetString()!) : [];

    private static byte[][] Proof(JsonElement v) =>
        v.TryGetProperty("proof", out var e) && e.ValueKind == JsonValueKind.Array
            ? [.. e.EnumerateArray().Select(p => Convert.FromBase64String(p.GetString() ?? string.Empty))]
            : [];
}
