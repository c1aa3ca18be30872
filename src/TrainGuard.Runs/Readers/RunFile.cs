using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>Reads a run from a path, whatever its format (decided from names, never from executing anything).</summary>
public static class RunFile
{
    /// <summary>
    /// A folder: an MLflow run (has <c>metrics/</c>, or is it), a Hugging Face output or checkpoint folder (has
    /// <c>trainer_state.json</c>) or a TensorBoard log folder (has <c>events.out.tfevents.*</c>). A file:
    /// <c>trainer_state.json</c> (or any <c>.json</c> with a <c>log_history</c>), an event file, else run JSONL.
    /// </summary>
    /// <exception cref="MalformedInputException">The path holds no run in a known format, or the data is malformed.</exception>
    /// <exception cref="FileNotFoundException">Nothing at the path.</exception>
    public static RunLog Load(string path)
    {
        if (Directory.Exists(path))
        {
            if (Directory.Exists(Path.Combine(path, MlflowReader.MetricsFolder)) || Path.GetFileName(Path.TrimEndingDirectorySeparator(path)) == MlflowReader.MetricsFolder)
            {
                return MlflowReader.Read(path);
            }

            var state = Path.Combine(path, TrainerStateReader.FileName);
            if (File.Exists(state))
            {
                return TrainerStateReader.Read(state);
            }

            var events = Directory.GetFiles(path, TensorBoardReader.FilePrefix + "*").Order(StringComparer.Ordinal).ToList();
            if (events.Count > 0)
            {
                return TensorBoardReader.Read(events, path);
            }

            throw MalformedInputException.CreateAt(InputErrorKind.Unsupported, $"no run found: expected an MLflow run (metrics/), a {TrainerStateReader.FileName} or {TensorBoardReader.FilePrefix}.* files in the folder", path, line: null);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file or folder", path);
        }

        var name = Path.GetFileName(path);
        if (name.StartsWith(TensorBoardReader.FilePrefix, StringComparison.Ordinal))
        {
            return TensorBoardReader.Read([path], path);
        }

        if (name == TrainerStateReader.FileName || (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && LooksLikeTrainerState(path)))
        {
            return TrainerStateReader.Read(path);
        }

        return RunJsonlReader.Read(path);
    }

    private static bool LooksLikeTrainerState(string path)
    {
        using var stream = File.OpenRead(path);
        var head = new byte[64 * 1024];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return head.AsSpan(0, read).IndexOf("\"log_history\""u8) >= 0;
    }
}
