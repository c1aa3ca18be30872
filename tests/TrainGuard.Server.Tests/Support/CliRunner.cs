namespace TrainGuard.Server.Tests.Support;

/// <summary>Runs the trainguard CLI in-process, with tree heads kept under a throwaway $XDG_STATE_HOME (never the user's).</summary>
public static class CliRunner
{
    static CliRunner()
    {
        Environment.SetEnvironmentVariable("XDG_STATE_HOME", TestPaths.NewTempDirectory());
    }

    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await TrainGuard.Cli.Program.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
