namespace TrainGuard.Findings;

/// <summary>Process exit codes shared by every command; documented in each command's <c>--help</c>.</summary>
public static class ExitCodes
{
    /// <summary>Everything analysed is clean (or not a format the command handles).</summary>
    public const int Clean = 0;

    /// <summary>At least one finding: something suspicious or malicious.</summary>
    public const int Findings = 1;

    /// <summary>An error: bad input, unreadable file, bad usage. Never means clean.</summary>
    public const int Error = 2;

    public const string HelpText = "Exit codes: 0 clean, 1 findings (suspicious or malicious), 2 error (unreadable, malformed, over a limit, or bad usage).";
}
