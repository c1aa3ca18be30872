using System.Text.Json;

namespace TrainGuard.Output;

/// <summary>
/// What a command reports beside its items and findings: <c>ckpt inspect</c>'s tensors and optimizer settings,
/// <c>ckpt diff</c>'s differences, <c>ckpt sign</c>'s signature, a spool's extent. Every writer renders it
/// (JSON as members after the standard ones, text as the lines people read), so no command writes its own output.
/// </summary>
public interface IReportDetails
{
    /// <summary>When true, the text writer prints <see cref="WriteText"/> instead of the item listing and summary line.</summary>
    bool ReplacesItemText { get; }

    /// <summary>
    /// The exit code the details call for on their own (1: the checkpoints differ, the ledger holds a conflicting
    /// record); 0 when they only describe. The report's exit code is the larger of this and the items'.
    /// </summary>
    int ExitCode { get; }

    /// <summary>Writes the command's own members into the JSON report object, after the items.</summary>
    void WriteJson(Utf8JsonWriter json);

    /// <summary>Writes the command's own text for people.</summary>
    void WriteText(TextWriter output);
}
