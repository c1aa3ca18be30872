using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.SevenZip;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Tests;

/// <summary>Each parser's fuzz target over random and mutated inputs (fixed seeds, bounded time): only MalformedInputException may escape.</summary>
public class FuzzTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1.2);

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
        Assert.True(FuzzHarness.Run(ZipReader.Fuzz, ZipSeeds(), seed: 1, Budget) > 100);

    [Fact]
    public void Tar_reader_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(TarReader.Fuzz, Seeds("tar"), seed: 2, Budget) > 100);

    [Fact]
    public void Npy_header_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(NpyHeader.Fuzz, Seeds("npy"), seed: 3, Budget) > 100);

    [Fact]
    public void Safetensors_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(SafetensorsReader.Fuzz, Seeds("safetensors", "safetensors/invalid"), seed: 4, Budget) > 100);

    [Fact]
    public void SevenZip_fuzz_target_only_throws_malformed_input() =>
        Assert.True(FuzzHarness.Run(SevenZipReader.Fuzz, Seeds("7z"), seed: 5, Budget, maxIterations: 3_000) > 50);

    [Fact]
    public void Legacy_torch_layout_fuzz_target_only_throws_malformed_input()
    {
        var tensor = new byte[8 + 32 + 8];
        tensor[0] = 2;
        tensor[8] = 3;
        var storage = new byte[8 + 12];
        storage[0] = 3;
        Assert.True(FuzzHarness.Run(TrainGuard.Formats.Torch.LegacyTorchLayout.Fuzz, [tensor, storage, [.. tensor, .. storage]], seed: 7, Budget) > 100);
    }

    [Fact]
    public void Format_detector_fuzz_target_never_throws() =>
        Assert.True(FuzzHarness.Run(FormatDetector.Fuzz, Seeds("pickle", "tar", "npy", "safetensors", "7z", "torch"), seed: 6, Budget) > 100);
}
