using System.Text.Json;
using TrainGuard.Formats.Safetensors;

namespace TrainGuard.Cli.Tests;

public sealed class CkptConvertCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-convert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Convert_writes_a_valid_safetensors_file_and_exits_0()
    {
        var output = Path.Combine(_dir, "model.safetensors");
        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "convert", CliRunner.Repo("tests", "fixtures", "ckpt", "checkpoint-6", "pytorch_model.bin"), output);
        Assert.Equal(0, code);
        Assert.Contains("wrote 6 tensor(s)", stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stderr);
        var header = SafetensorsReader.Validate(File.ReadAllBytes(output), SafetensorsLimits.Default);
        Assert.Contains(header.Tensors, t => t.Name == "encoder.weight" && t.Dtype == "F32");
    }

    [Fact]
    public async Task Convert_refuses_a_malicious_checkpoint_with_exit_1_and_the_reason()
    {
        var output = Path.Combine(_dir, "x.safetensors");
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "convert", CliRunner.Repo("tests", "fixtures", "malicious", "torch-zip-data-pkl-replaced.pt"), output);
        Assert.Equal(1, code);
        Assert.Contains("malicious, not clean", stderr, StringComparison.Ordinal);
        Assert.Contains("os.system", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Convert_keeps_an_existing_output_without_force()
    {
        var output = Path.Combine(_dir, "exists.safetensors");
        await File.WriteAllTextAsync(output, "keep");
        var input = CliRunner.Repo("tests", "fixtures", "ckpt", "legacy", "pytorch_model.bin");
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "convert", input, output);
        Assert.Equal(2, code);
        Assert.Contains("--force", stderr, StringComparison.Ordinal);
        Assert.Equal("keep", await File.ReadAllTextAsync(output));
        Assert.Equal(0, (await CliRunner.RunAsync("ckpt", "convert", input, output, "--force")).Code);
    }

    [Fact]
    public async Task Convert_lists_non_tensor_values_and_skips_them_only_when_asked()
    {
        var input = CliRunner.Repo("tests", "fixtures", "benign", "nested-structure.pt");
        var output = Path.Combine(_dir, "n.safetensors");
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "convert", input, output);
        Assert.Equal(2, code);
        Assert.Contains("--skip-non-tensors", stderr, StringComparison.Ordinal);
        Assert.Contains("layers.0.meta.0 = 'a'", stderr, StringComparison.Ordinal);

        var (ok, stdout, _) = await CliRunner.RunAsync("ckpt", "convert", input, output, "--skip-non-tensors", "--format", "json");
        Assert.Equal(0, ok);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("converted", doc.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("tensors").GetArrayLength());
        Assert.Contains(doc.RootElement.GetProperty("skipped").EnumerateArray(), s => s.GetProperty("path").GetString() == "ids.0");
    }

    [Fact]
    public async Task Convert_reports_a_malformed_checkpoint_as_an_error_naming_the_member()
    {
        var input = Path.Combine(_dir, "bad.pt");
        var bytes = await File.ReadAllBytesAsync(CliRunner.Repo("tests", "fixtures", "ckpt", "tensors", "dtypes-views.pt"));
        await File.WriteAllBytesAsync(input, bytes[..(bytes.Length / 2)]);
        var (code, _, stderr) = await CliRunner.RunAsync("ckpt", "convert", input, Path.Combine(_dir, "bad.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("trainguard:", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "bad.safetensors")));
    }
}
