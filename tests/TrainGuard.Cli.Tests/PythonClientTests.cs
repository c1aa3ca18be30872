using System.Diagnostics;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// The Python training client's own tests (<c>clients/python/tests</c>, unittest), run twice with this build of the CLI
/// as the load guard's scanner: with Debian 12's <c>/usr/bin/python3</c> and <c>python3-torch</c> 1.13 (installed by
/// <c>.ci/run</c>), and inside the Debian testing root of <c>scripts/torch2-root.sh</c> (built by <c>.ci/run</c>) with
/// torch 2.x, a real <c>transformers.Trainer</c> and <c>accelerate</c>: the optimizer wrapper and torch 2.x's step
/// hooks, the cosine of flipped steps, attestation, the Hugging Face callback, a dead server, the load guard.
/// </summary>
public sealed class PythonClientTests : IDisposable
{
    private const string Python = "/usr/bin/python3";

    private readonly string _bin = Directory.CreateTempSubdirectory("tg-pyclient-").FullName;

    [Fact]
    public async Task Python_client_unittests_pass_with_debian_torch_and_this_trainguard()
    {
        Assert.True(File.Exists(Python), Python + " is missing (apt-get install python3-torch)");
        var (exitCode, output) = await RunAsync(Python, [], requireTransformers: false);
        var lines = RanAndPassed(exitCode, output);
        // Debian 12 has no transformers: only the Trainer tests may skip, and they must say why.
        var skipped = lines.Where(l => l.Contains(" ... skipped ", StringComparison.Ordinal)).ToList();
        Assert.All(skipped, l => Assert.Contains("transformers is not installed here", l, StringComparison.Ordinal));
        Assert.True(lines[^1] == "OK" || lines[^1] == $"OK (skipped={skipped.Count})", lines[^1]);
    }

    [Fact]
    public async Task Python_client_unittests_pass_with_torch_2_and_a_real_transformers_trainer()
    {
        var script = CliRunner.Repo("scripts", "torch2-root.sh");
        var check = await RunAsync("bash", [script, "check"], requireTransformers: true, python: false);
        Assert.True(check.ExitCode == 0, "the torch 2.x root is not built; run: bash scripts/torch2-root.sh build\n" + check.Output);
        // The root sees the repository, this build and the .NET runtime at the same paths (bound in a private mount namespace).
        var dotnetRoot = Path.GetDirectoryName(DotnetHost()) ?? "/usr/share/dotnet";
        string[] binds = ["--bind", _bin, "--bind", AppContext.BaseDirectory, "--bind", dotnetRoot];
        var (exitCode, output) = await RunAsync("bash", [script, "run", .. binds, "--", Python], requireTransformers: true);
        var lines = RanAndPassed(exitCode, output);
        Assert.Equal("OK", lines[^1]);
        Assert.Contains(lines, l => l.StartsWith("test_a_sabotaged_adamw_step_fails_attestation_and_every_flipped_step_is_found", StringComparison.Ordinal) && l.EndsWith(" ... ok", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("test_with_step_hooks_the_client_uses_them", StringComparison.Ordinal) && l.EndsWith(" ... ok", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_bin, recursive: true);

    private static List<string> RanAndPassed(int exitCode, string output)
    {
        Assert.True(exitCode == 0, $"python3 -m unittest exited {exitCode}:\n{output}");
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.Contains(lines, l => l.StartsWith("Ran ", StringComparison.Ordinal) && !l.StartsWith("Ran 0 ", StringComparison.Ordinal));
        return lines;
    }

    private static string DotnetHost() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "/usr/share/dotnet/dotnet";

    /// <summary>Runs <paramref name="program"/> (with <c>-m unittest discover -v -s clients/python/tests</c> appended unless <paramref name="python"/> is false) from the repository root.</summary>
    private async Task<(int ExitCode, string Output)> RunAsync(string program, string[] arguments, bool requireTransformers, bool python = true)
    {
        var wrapper = Path.Combine(_bin, "trainguard");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec \"{DotnetHost()}\" \"{Path.Combine(AppContext.BaseDirectory, "trainguard.dll")}\" \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = CliRunner.Root };
        foreach (var argument in python ? [.. arguments, "-m", "unittest", "discover", "-v", "-s", "clients/python/tests"] : arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TRAINGUARD_BIN"] = wrapper;
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        start.Environment["TG_EXAMPLE_THREADS"] = "1";
        start.Environment["TRAINGUARD_REQUIRE_TRANSFORMERS"] = requireTransformers ? "1" : "0";
        start.Environment.Remove("TRAINGUARD_EVENTS_FILE");
        start.Environment.Remove("TRAINGUARD_SERVER");
        start.Environment.Remove(Options.CommonOptions.TokenVariable);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + program);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
