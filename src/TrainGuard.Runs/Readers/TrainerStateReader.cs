using TrainGuard.Checkpoints.Contents;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// A Hugging Face <c>trainer_state.json</c> (read by <see cref="TrainerState"/>, which takes Python's bare
/// <c>NaN</c>/<c>Infinity</c>/<c>-Infinity</c>): each <c>log_history</c> entry with a <c>step</c> and a training
/// value (<c>loss</c>, <c>learning_rate</c>, <c>grad_norm</c>) becomes a step of rank 0.
/// </summary>
public static class TrainerStateReader
{
    public const string FileName = "trainer_state.json";

    /// <exception cref="MalformedInputException">Not JSON, a field of the wrong type, or no training entry; the message names the file.</exception>
    public static RunLog Read(string path)
    {
        var length = new FileInfo(path).Length;
        if (length > TrainerState.MaxBytes)
        {
            MalformedInputException.ThrowLimit($"{path}: trainer_state.json size", TrainerState.MaxBytes, 0);
        }

        return Read(File.ReadAllBytes(path), path);
    }

    /// <inheritdoc cref="Read(string)"/>
    public static RunLog Read(byte[] bytes, string source)
    {
        TrainerState state;
        try
        {
            state = TrainerState.Parse(bytes);
        }
        catch (MalformedInputException ex)
        {
            throw MalformedInputException.CreateAt(ex.Kind, ex.Problem, source, ex.Line, ex.Column, ex.Offset, ex.Field, ex);
        }

        var runId = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(source))) ?? source;
        var events = new List<RunEvent>();
        for (var i = 0; i < state.LogHistory.Count; i++)
        {
            var entry = state.LogHistory[i];
            if (entry.Step is not { } step || (entry.Loss is null && entry.LearningRate is null && entry.GradNorm is null))
            {
                continue; // an evaluation or end-of-training entry
            }

            events.Add(new RunEvent
            {
                Kind = RunEventKind.Step,
                RunId = runId,
                Position = i,
                Step = new RunStep { Step = step, Loss = entry.Loss, GradNorm = entry.GradNorm, Lr = entry.LearningRate is { } lr ? [lr] : null },
            });
        }

        if (events.Count == 0)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "log_history has no training entry (a step with loss, learning_rate or grad_norm)", source, line: null, field: "log_history");
        }

        return new RunLog { Source = source, Format = RunFormat.TrainerState, Events = events };
    }

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) => Read(data.ToArray(), "fuzz/trainer_state.json");
}
