using System.Diagnostics;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>scripts/demo.sh</c> run in a copy of the repository's layout whose <c>src/TrainGuard.Cli</c> does not compile:
/// the script must say why the build failed, not only that it did.
/// </summary>
public sealed class DemoScriptTests : IDisposable
{
    private readonly string _tree = Path.Combine(Path.GetTempPath(), "tg-demo-" + Guid.NewGuid().ToString("N")[..12]);

    [Fact]
    public async Task Failed_build_prints_the_compiler_error_with_file_and_line_and_stops()
    {
        Directory.CreateDirectory(Path.Combine(_tree, "scripts"));
        File.Copy(CliRunner.Repo("scripts", "demo.sh"), Path.Combine(_tree, "scripts", "demo.sh"));
        var project = Path.Combine(_tree, "src", "TrainGuard.Cli");
        Directory.CreateDirectory(project);
        await File.WriteAllTextAsync(Path.Combine(project, "TrainGuard.Cli.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <AssemblyName>trainguard</AssemblyName>
              </PropertyGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), "System.Console.WriteLine(\"missing semicolon\")\n");

        var (code, stdout, stderr) = await RunAsync("bash", Path.Combine(_tree, "scripts", "demo.sh"));

        Assert.NotEqual(0, code);
        Assert.Contains("the build failed", stderr, StringComparison.Ordinal);
        Assert.Contains("Program.cs(1,", stderr, StringComparison.Ordinal);
        Assert.Contains("error CS1002", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("trainguard scan", stdout, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_tree, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + fileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
