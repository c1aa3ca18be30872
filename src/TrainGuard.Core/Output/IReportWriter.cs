using TrainGuard.Findings;

namespace TrainGuard.Output;

/// <summary>Writes a <see cref="Report"/> in one format. Every analyzer's output goes through one of these.</summary>
public interface IReportWriter
{
    void Write(Report report, TextWriter output);
}
