using System.CommandLine;
using TrainGuard.Findings;
using TrainGuard.Output;

namespace TrainGuard.Cli.Output;

/// <summary>The <c>--format</c> and <c>--output</c> options every reporting command shares, and writing a report through them.</summary>
public sealed class ReportOutput
{
    public Option<string> Format { get; } = new("--format", "-f")
    {
        Description = "Output format: text (for people), json (for scripts; schema in docs/json-output.md), sarif (SARIF 2.1.0 for code-scanning tools).",
        DefaultValueFactory = _ => "text",
    };

    public Option<FileInfo?> OutputFile { get; } = new("--output", "-o")
    {
        Description = "Write the report to FILE instead of standard output (a one-line summary still goes to standard error).",
    };

    public ReportOutput()
    {
        Format.AcceptOnlyFromAmong("text", "json", "sarif");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Format);
        command.Options.Add(OutputFile);
    }

    public static OutputFormat ParseFormat(string? value) => value switch
    {
        "json" => OutputFormat.Json,
        "sarif" => OutputFormat.Sarif,
        _ => OutputFormat.Text,
    };

    /// <summary>Writes the report where the options say; returns the report's exit code.</summary>
    public int Write(ParseResult parse, Report report, TextWriter stdout, TextWriter stderr, bool quiet = false)
    {
        var format = ParseFormat(parse.GetValue(Format));
        IReportWriter writer = format == OutputFormat.Text ? new TextReportWriter { ShowClean = !quiet } : ReportWriters.For(format);
        var file = parse.GetValue(OutputFile);
        if (file is null)
        {
            writer.Write(report, stdout);
            stdout.Flush();
        }
        else
        {
            var directory = file.Directory;
            if (directory is not null && !directory.Exists)
            {
                throw new CliException($"--output: folder {directory.FullName} does not exist");
            }

            using (var output = new StreamWriter(file.FullName, append: false, new System.Text.UTF8Encoding(false)))
            {
                writer.Write(report, output);
            }

            stderr.WriteLine($"{report.Command}: {report.Overall.ToWireName()} ({report.Items.Count} items, exit {report.ExitCode}); report written to {file.FullName}");
        }

        return report.ExitCode;
    }
}
