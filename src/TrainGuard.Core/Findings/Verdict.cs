namespace TrainGuard.Findings;

/// <summary>
/// The outcome for one analysed item. Ordered by how much attention it needs, except that
/// <see cref="Error"/> is never "better" than clean: an item that could not be analysed is not clean.
/// </summary>
public enum Verdict
{
    /// <summary>Not a format the analyzer handles (and nothing about it suggests it should be).</summary>
    Skipped = 0,
    Clean = 1,
    Suspicious = 2,
    Malicious = 3,
    /// <summary>Unparseable, truncated, over a limit: the analyzer cannot vouch for it.</summary>
    Error = 4,
}

public static class VerdictExtensions
{
    public static string ToWireName(this Verdict verdict) => verdict switch
    {
        Verdict.Skipped => "skipped",
        Verdict.Clean => "clean",
        Verdict.Suspicious => "suspicious",
        Verdict.Malicious => "malicious",
        Verdict.Error => "error",
        _ => "unknown",
    };

    /// <summary>
    /// Combines two verdicts for the same item: malicious beats error (a file with a payload and a
    /// truncated tail is still reported malicious, and the error is kept as a finding), error beats
    /// suspicious, suspicious beats clean, clean beats skipped.
    /// </summary>
    public static Verdict Combine(this Verdict a, Verdict b) => Rank(a) >= Rank(b) ? a : b;

    private static int Rank(Verdict v) => v switch
    {
        Verdict.Skipped => 0,
        Verdict.Clean => 1,
        Verdict.Suspicious => 2,
        Verdict.Error => 3,
        Verdict.Malicious => 4,
        _ => 0,
    };
}
