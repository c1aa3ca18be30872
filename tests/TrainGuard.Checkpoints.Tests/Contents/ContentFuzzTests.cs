using System.IO.Compression;
using TrainGuard.Checkpoints.Contents;
using TrainGuard.Checkpoints.Runs;

namespace TrainGuard.Checkpoints.Tests.Contents;

/// <summary>Mutated fixture pickles, re-zipped with valid CRCs so the mutations reach the content readers.</summary>
public sealed class ContentFuzzTests
{
    [Theory]
    [InlineData("optimizer.pt")]
    [InlineData("scheduler.pt")]
    [InlineData("rng_state.pth")]
    public void Fuzzing_the_content_readers_throws_only_malformed_input(string file)
    {
        var members = new List<(string Name, byte[] Data)>();
        using (var zip = ZipFile.OpenRead(Path.Combine(CkptFixtures.Clean, file)))
        {
            foreach (var entry in zip.Entries)
            {
                using var s = entry.Open();
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                members.Add((entry.FullName, ms.ToArray()));
            }
        }

        var random = new Random(file.Length * 31);
        var pickleIndex = members.FindIndex(m => m.Name.EndsWith("data.pkl", StringComparison.Ordinal));
        for (var round = 0; round < 150; round++)
        {
            var pickle = (byte[])members[pickleIndex].Data.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                pickle[random.Next(pickle.Length)] = (byte)random.Next(256);
            }

            using var output = new MemoryStream();
            using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            {
                foreach (var (name, data) in members)
                {
                    var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
                    using var s = entry.Open();
                    s.Write(name == members[pickleIndex].Name ? pickle : data);
                }
            }

            var bytes = output.ToArray();
            try
            {
                CheckpointReader.Fuzz(bytes);
            }
            catch (Exception ex)
            {
                Assert.Fail($"{ex.GetType().Name} for data.pkl {System.Convert.ToHexString(pickle)}: {ex.Message}");
            }
        }
    }

    [Fact]
    public void Fuzzing_the_run_manifest_parser_throws_only_malformed_input()
    {
        var seed = File.ReadAllBytes(CkptFixtures.RunManifest);
        var random = new Random(99);
        for (var round = 0; round < 400; round++)
        {
            var data = (byte[])seed.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                const string Alphabet = "{}[]:,-&*!|>'\"#\n 0.ea";
                data[random.Next(data.Length)] = (byte)Alphabet[random.Next(Alphabet.Length)];
            }

            try
            {
                RunManifestParser.Fuzz(data);
            }
            catch (Exception ex)
            {
                Assert.Fail($"{ex.GetType().Name} for input {System.Convert.ToHexString(data)}: {ex.Message}");
            }
        }
    }
}
