using TrainGuard.Findings;

namespace TrainGuard.Output;

/// <summary>Plain text for people: per item the verdict, then each finding with where, what, why and what to do.</summary>
public sealed class TextReportWriter : IReportWriter
{
    /// <summary>
    /// When false (<c>--quiet</c>), clean and skipped items are not listed (only the summary counts them) and a
    /// command's own text (<see cref="Report.Details"/>) is left out.
    /// </summary>
    public bool ShowClean { get; init; } = true;

    public void Write(Report report, TextWriter output)
    {
        if (ShowClean && report.Details is { ReplacesItemText: true } details)
        {
            details.WriteText(output);
            return;
        }

        foreach (var item in report.Items.OrderByDescending(i => Rank(i.Verdict)).ThenBy(i => i.Path, StringComparer.Ordinal))
        {
            if (!ShowClean && item.Verdict is Verdict.Clean or Verdict.Skipped)
            {
                continue;
            }

            output.WriteLine($"{Label(item.Verdict),-10} {TextSanitizer.Escape(item.Path, 400)} ({item.Format})");
            foreach (var finding in item.Findings.OrderByDescending(f => f.Severity))
            {
                WriteFinding(item, finding, output);
            }
        }

        output.WriteLine();
        var parts = new[] { Verdict.Malicious, Verdict.Suspicious, Verdict.Error, Verdict.Clean, Verdict.Skipped }
            .Select(v => $"{report.Count(v)} {v.ToWireName()}");
        output.WriteLine($"{report.Items.Count} {(report.Items.Count == 1 ? "item" : "items")} {report.ItemsName switch { "files" => "scanned", _ => "checked" }}: {string.Join(", ", parts)} ({report.Elapsed.TotalSeconds:0.00}s)");
        if (ShowClean)
        {
            report.Details?.WriteText(output);
        }
    }

    private static void WriteFinding(AnalyzedItem item, Finding finding, TextWriter output)
    {
        var file = finding.Location.File == item.Path ? null : TextSanitizer.Escape(finding.Location.File, 300);
        var where = finding.Location.Member is { } member
            ? $"{(file is null ? string.Empty : file + ", ")}member {TextSanitizer.Escape(member, 200)}"
            : file ?? "the file itself";
        if (finding.Location.Offset is { } offset)
        {
            where += $" at offset 0x{offset:x}";
        }

        if (finding.Location.Line is { } line)
        {
            where += $" line {line}";
        }

        output.WriteLine($"  [{finding.Severity.ToWireName()}] {finding.RuleId}: {TextSanitizer.Escape(finding.Message, 500)}");
        output.WriteLine($"      where: {where}");
        if (!string.IsNullOrEmpty(finding.Why))
        {
            output.WriteLine($"      why:   {finding.Why}");
        }

        if (!string.IsNullOrEmpty(finding.Guidance))
        {
            output.WriteLine($"      do:    {finding.Guidance}");
        }
    }

    private static string Label(Verdict verdict) => verdict switch
    {
        Verdict.Malicious => "MALICIOUS",
        Verdict.Suspicious => "SUSPICIOUS",
        Verdict.Error => "ERROR",
        Verdict.Clean => "clean",
        _ => "skipped",
    };

    private static int Rank(Verdict verdict) => verdict switch
    {
        Verdict.Malicious => 4,
        Verdict.Error => 3,
        Verdict.Suspicious => 2,
        Verdict.Clean => 1,
        _ => 0,
    };
}
