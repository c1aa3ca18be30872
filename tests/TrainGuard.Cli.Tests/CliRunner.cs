namespace TrainGuard.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output, with tree heads kept under a throwaway $XDG_STATE_HOME (never the user's).</summary>
internal static class CliRunner
{
    static CliRunner()
    {
        Environment.SetEnvironmentVariable("XDG_STATE_HOME", Directory.CreateTempSubdirectory("tg-cli-state-").FullName);
    }

    public static string Root { get; } = FindRoot();

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public static string Repo(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}
