using System.Diagnostics;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// The Python training client's own tests (<c>clients/python/tests</c>, unittest) run with Debian's
/// <c>/usr/bin/python3</c> and <c>python3-torch</c> (installed by <c>.ci/run</c>), its load guard using this build of
/// the CLI: the optimizer wrapper, the cosine of flipped steps, attestation, a dead server, the load guard.
/// </summary>
public sealed class PythonClientTests : IDisposable
{
    private const string Python = "/usr/bin/python3";

    private readonly string _bin = Directory.CreateTempSubdirectory("tg-pyclient-").FullName;

    [Fact]
    public async Task Python_client_unittests_pass_with_debian_torch_and_this_trainguard()
    {
        Assert.True(File.Exists(Python), Python + " is missing (apt-get install python3-torch)");
        var wrapper = Path.Combine(_bin, "trainguard");
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec \"{host}\" \"{Path.Combine(AppContext.BaseDirectory, "trainguard.dll")}\" \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = CliRunner.Root };
        foreach (var argument in (string[])["-m", "unittest", "discover", "clients/python/tests"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TRAINGUARD_BIN"] = wrapper;
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        start.Environment["TG_EXAMPLE_THREADS"] = "1";
        start.Environment.Remove("TRAINGUARD_EVENTS_FILE");
        start.Environment.Remove("TRAINGUARD_SERVER");
        start.Environment.Remove(Options.CommonOptions.TokenVariable);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + Python);
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

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"python3 -m unittest exited {process.ExitCode}:\n{output}");
        // unittest ends with "OK" alone when nothing was skipped ("OK (skipped=N)" otherwise).
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.Equal("OK", lines[^1]);
        Assert.Contains(lines, l => l.StartsWith("Ran ", StringComparison.Ordinal) && !l.StartsWith("Ran 0 ", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_bin, recursive: true);
}
