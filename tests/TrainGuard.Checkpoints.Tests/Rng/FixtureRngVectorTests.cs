using System.Numerics;
using System.Text.Json;
using TrainGuard.Checkpoints.Rng;

namespace TrainGuard.Checkpoints.Tests.Rng;

/// <summary>The fixture helper's independent vectors (tests/fixtures/ckpt/rng_vectors.json): a draw there is one double, two 32-bit words.</summary>
public sealed class FixtureRngVectorTests
{
    private static readonly string VectorFile = Path.Combine(RngVectors.FindRepoRoot(), "tests", "fixtures", "ckpt", "rng_vectors.json");

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        using var document = JsonDocument.Parse(File.ReadAllText(VectorFile));
        foreach (var library in new[] { "python", "numpy" })
        {
            var seeds = document.RootElement.GetProperty(library).GetArrayLength();
            for (var s = 0; s < seeds; s++)
            {
                var states = document.RootElement.GetProperty(library)[s].GetProperty("states").GetArrayLength();
                for (var i = 0; i < states; i++)
                {
                    data.Add(library, s, i);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_fixture_state_rewinds_to_its_seed_with_two_words_per_double(string library, int seedIndex, int stateIndex)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(VectorFile));
        var entry = document.RootElement.GetProperty(library)[seedIndex];
        var seed = new BigInteger(entry.GetProperty("seed").GetInt64());
        var state = entry.GetProperty("states")[stateIndex];
        var words = state.GetProperty("state").EnumerateArray().Select(e => e.GetUInt32()).ToArray();
        var position = state.GetProperty(library == "python" ? "index" : "pos").GetInt32();
        var kind = library == "python" ? RngKind.Python : RngKind.Numpy;

        var assessment = SeedFinder.Assess(words, position, kind, seed, SeedFinder.DefaultMaxTwists);

        Assert.Equal(SeedVerdict.DeclaredSeed, assessment.Verdict);
        Assert.Equal(2L * state.GetProperty("draws").GetInt64(), assessment.Origin.WordsDrawn(position));
    }
}
