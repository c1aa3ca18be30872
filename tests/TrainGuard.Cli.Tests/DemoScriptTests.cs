using System.Diagnostics;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>scripts/demo.sh</c>, the README's first command: end to end with the built CLI (the incident reaches a server it
/// started, the alerts and timeline name intern7 and not lena, the server is stopped and its data removed), and in a
/// copy of the repository's layout whose <c>src/TrainGuard.Cli</c> does not compile (it must say why the build failed).
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

        var (code, stdout, stderr) = await RunAsync([], "bash", Path.Combine(_tree, "scripts", "demo.sh"));

        Assert.NotEqual(0, code);
        Assert.Contains("the build failed", stderr, StringComparison.Ordinal);
        Assert.Contains("Program.cs(1,", stderr, StringComparison.Ordinal);
        Assert.Contains("error CS1002", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("starting a TrainGuard server", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_demo_tells_the_incident_naming_intern7_and_stops_its_server()
    {
        var tmp = Directory.CreateDirectory(Path.Combine(_tree, "tmp")).FullName;
        var wrapper = Path.Combine(_tree, "trainguard");
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec \"{host}\" \"{Path.Combine(AppContext.BaseDirectory, "trainguard.dll")}\" \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var (code, stdout, stderr) = await RunAsync(new Dictionary<string, string> { ["TRAINGUARD"] = wrapper, ["TMPDIR"] = tmp }, "bash", CliRunner.Repo("scripts", "demo.sh"));

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("==> trainguard alerts list", stdout, StringComparison.Ordinal);
        Assert.Contains("==> trainguard timeline --user intern7", stdout, StringComparison.Ordinal);
        foreach (var rule in AlertsCommandTests.ExpectedRules)
        {
            Assert.Contains(rule, stdout, StringComparison.Ordinal);
        }

        // The table rows (an alert id first) name intern7's account and never lena's; the timeline is intern7's.
        var rows = stdout.Split('\n').Where(l => l.StartsWith("alt_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(rows);
        Assert.Contains(rows, r => r.Contains("intern7 (login uid 2007)", StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.Contains("lena (login uid", StringComparison.Ordinal));
        Assert.Contains("timeline of user intern7 (login uid 2007", stdout, StringComparison.Ordinal);
        Assert.Contains("look further", stdout, StringComparison.Ordinal);
        Assert.Contains("alerts show alt_", stdout, StringComparison.Ordinal);

        // The server is stopped and its temporary data directory removed.
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
        var url = stdout.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("listening on ", StringComparison.Ordinal))["listening on ".Length..];
        using var probe = new System.Net.Sockets.TcpClient();
        var port = new Uri(url).Port;
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync(System.Net.IPAddress.Loopback, port));
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

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment.Remove(Options.CommonOptions.TokenVariable);
        start.Environment.Remove("TRAINGUARD_DATA_DIR");
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
