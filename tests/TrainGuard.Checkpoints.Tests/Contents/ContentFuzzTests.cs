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

        var pickleIndex = members.FindIndex(m => m.Name.EndsWith("data.pkl", StringComparison.Ordinal));
        foreach (var pickle in FuzzHarness.Inputs([members[pickleIndex].Data], 150, file.Length * 31))
        {
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

            FuzzHarness.Check(CheckpointReader.Fuzz, output.ToArray());
        }
    }

    [Fact]
    public void Fuzzing_the_run_manifest_parser_throws_only_malformed_input()
    {
        FuzzHarness.Run(RunManifestParser.Fuzz, [File.ReadAllBytes(CkptFixtures.RunManifest)], 400, 99, "{}[]:,-&*!|>'\"#\n 0.ea"u8.ToArray());
    }
}
