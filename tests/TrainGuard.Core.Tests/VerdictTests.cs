using TrainGuard.Findings;

namespace TrainGuard.Core.Tests;

public class VerdictTests
{
    [Theory]
    [InlineData(Verdict.Clean, Verdict.Skipped, Verdict.Clean)]
    [InlineData(Verdict.Clean, Verdict.Suspicious, Verdict.Suspicious)]
    [InlineData(Verdict.Suspicious, Verdict.Error, Verdict.Error)]
    [InlineData(Verdict.Error, Verdict.Malicious, Verdict.Malicious)]
    [InlineData(Verdict.Malicious, Verdict.Clean, Verdict.Malicious)]
    public void Combining_verdicts_keeps_the_one_needing_most_attention(Verdict a, Verdict b, Verdict expected)
    {
        Assert.Equal(expected, a.Combine(b));
        Assert.Equal(expected, b.Combine(a));
    }

    [Fact]
    public void Any_error_makes_exit_code_2_even_with_findings()
    {
        var report = new Report
        {
            Command = "scan",
            Items =
            [
                new AnalyzedItem { Path = "a", Format = "pickle", Verdict = Verdict.Malicious },
                new AnalyzedItem { Path = "b", Format = "unknown", Verdict = Verdict.Error },
            ],
        };
        Assert.Equal(ExitCodes.Error, report.ExitCode);
    }

    [Fact]
    public void Only_clean_and_skipped_exit_0_and_findings_exit_1()
    {
        var clean = new Report { Command = "scan", Items = [new AnalyzedItem { Path = "a", Format = "pickle", Verdict = Verdict.Clean }, new AnalyzedItem { Path = "b", Format = "other", Verdict = Verdict.Skipped }] };
        Assert.Equal(ExitCodes.Clean, clean.ExitCode);
        var suspicious = new Report { Command = "scan", Items = [new AnalyzedItem { Path = "a", Format = "pickle", Verdict = Verdict.Suspicious }] };
        Assert.Equal(ExitCodes.Findings, suspicious.ExitCode);
    }

    [Fact]
    public void Sanitizer_escapes_bytes_like_python_and_truncates()
    {
        Assert.Equal("echo pwned\\n\\x00", TextSanitizer.EscapeBytes("echo pwned\n\0"u8));
        Assert.Equal("ab…", TextSanitizer.Escape("abcdef", 2));
    }
}
