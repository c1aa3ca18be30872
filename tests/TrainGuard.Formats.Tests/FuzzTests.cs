using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.SevenZip;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Tests;

/// <summary>Each parser's fuzz target over random and mutated inputs (fixed seeds, a fixed number of inputs): only MalformedInputException may escape.</summary>
public class FuzzTests
{
    private const int Iterations = 3_000;

    /// <summary>Bytes that matter to the archive and header formats: digits, JSON and Python-literal punctuation, zip signatures.</summary>
    private static readonly byte[] Alphabet = "0123456789 \0\n{}[],:\"'-()PK\x03\x04\x01\x02\x05\x06"u8.ToArray();

    private static List<byte[]> Seeds(params string[] folders) =>
        folders.SelectMany(Fixture.Files).Where(f => !f.EndsWith(".py", StringComparison.Ordinal)).Select(Fixture.Bytes).ToList();

    private static List<byte[]> ZipSeeds()
    {
        var seeds = Seeds("npz", "torch");
        var builder = new ZipBuilder { Zip64EndRecord = true };
        builder.Add("a.pkl", new byte[100], ZipReader.MethodDeflate).Zip64 = true;
        builder.Add("hidden", "x").InCentralDirectory = false;
        builder.Add("b", "descriptor").DataDescriptor = true;
        seeds.Add(builder.Build());
        return seeds;
    }

    [Fact]
    public void Zip_reader_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(ZipReader.Fuzz, ZipSeeds(), Iterations, seed: 1, Alphabet) > 100);

    [Fact]
    public void Tar_reader_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(TarReader.Fuzz, Seeds("tar"), Iterations, seed: 2, Alphabet) > 100);

    [Fact]
    public void Npy_header_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(NpyHeader.Fuzz, Seeds("npy"), Iterations, seed: 3, Alphabet) > 100);

    [Fact]
    public void Safetensors_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(SafetensorsReader.Fuzz, Seeds("safetensors", "safetensors/invalid"), Iterations, seed: 4, Alphabet) > 100);

    [Fact]
    public void SevenZip_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(SevenZipReader.Fuzz, Seeds("7z"), 1_000, seed: 5, Alphabet) > 50);

    [Fact]
    public void Legacy_torch_layout_fuzz_target_only_throws_malformed_input()
    {
        var tensor = new byte[8 + 32 + 8];
        tensor[0] = 2;
        tensor[8] = 3;
        var storage = new byte[8 + 12];
        storage[0] = 3;
        Assert.True(FuzzHarness.Run(TrainGuard.Formats.Torch.LegacyTorchLayout.Fuzz, [tensor, storage, [.. tensor, .. storage]], Iterations, seed: 7, Alphabet) > 100);
    }

    [Fact]
    public void Format_detector_fuzz_target_never_throws() =>
        Assert.True(FuzzHarness.Run(FormatDetector.Fuzz, Seeds("pickle", "tar", "npy", "safetensors", "7z", "torch"), Iterations, seed: 6, Alphabet) > 100);
}
