using System.CommandLine;
using TrainGuard.Findings;
using TrainGuard.Output;

namespace TrainGuard.Cli.Options;

/// <summary>
/// <c>-f/--format</c>, <c>-o/--output</c> and <c>-q/--quiet</c> of a verb that reports, and writing its
/// <see cref="Report"/> through the one <see cref="IReportWriter"/> the format names.
/// </summary>
public sealed class ReportOptions
{
    public ReportOptions(bool sarif)
    {
        Format = CommonOptions.Format(sarif);
    }

    public Option<string> Format { get; }

    public Option<FileInfo?> OutputFile { get; } = CommonOptions.Output();

    public Option<bool> Quiet { get; } = CommonOptions.Quiet();

    public void AddTo(Command command) => command.AddOptions(Format, OutputFile, Quiet);

    public static OutputFormat ParseFormat(string? value) => value switch
    {
        "json" => OutputFormat.Json,
        "sarif" => OutputFormat.Sarif,
        _ => OutputFormat.Text,
    };

    /// <summary>Checks that the report file can be written (its folder exists) before any work is done.</summary>
    public void Validate(ParseResult parse)
    {
        if (parse.GetValue(OutputFile) is { Directory: { Exists: false } directory })
        {
            throw new CliException($"--output: folder {directory.FullName} does not exist");
        }
    }

    /// <summary>Writes the report where the options say; returns the report's exit code.</summary>
    public int Write(ParseResult parse, Report report, TextWriter stdout, TextWriter stderr)
    {
        var format = ParseFormat(parse.GetValue(Format));
        IReportWriter writer = format == OutputFormat.Text ? new TextReportWriter { ShowClean = !parse.GetValue(Quiet) } : ReportWriters.For(format);
        var file = parse.GetValue(OutputFile);
        if (file is null)
        {
            writer.Write(report, stdout);
            stdout.Flush();
            return report.ExitCode;
        }

        Validate(parse);
        using (var output = new StreamWriter(file.FullName, append: false, new System.Text.UTF8Encoding(false)))
        {
            writer.Write(report, output);
        }

        stderr.WriteLine($"{report.Command}: {report.Overall.ToWireName()} ({report.Items.Count} items, exit {report.ExitCode}); report written to {file.FullName}");
        return report.ExitCode;
    }
}
